package config

import (
	"path/filepath"
	"strings"

	"github.com/pocketsnap/pocketsnap/prootdistro"
	"github.com/pocketsnap/pocketsnap/stage"
)

// Sources are the places a key's value may come from.
type Sources uint8

// The sources: the env file, overridden by the environment. The secrets
// file is the only source of the S3_* keys. A flag overrides them all
// ([Key.Flag], [Config.Set]).
const (
	FromFile Sources = 1 << iota
	FromEnv
	FromSecrets
)

// Key is one configuration key.
type Key struct {
	// Name is the key, or a family's pattern such as BACKUP_KEEP_<KIND>.
	Name string
	Type Type
	// Default returns the value of the key when it is not set; nil when it
	// has none. Defaults may depend on other keys.
	Default func(v Values) string
	// Doc says what the key does, in one line.
	Doc  string
	From Sources
	// Flag is the flag that overrides the key, for the documentation.
	Flag string
	// Secret values are never shown, only "(set)".
	Secret bool
	// Offsite keys are required when ENABLE_OFFSITE_BACKUP is true.
	Offsite bool
}

// Values are what a default is computed from: the other keys, and the
// environment.
type Values interface {
	Value(name string) string
	Getenv(name string) string
}

// kindPattern is the part of a family's name that stands for a kind.
const kindPattern = "<KIND>"

// Keys is every configuration key, in the order "pocketsnap config" shows
// them. To add a key, add a row.
var Keys = []Key{
	{Name: "DATA_DIR", Type: Dir, Default: defaultDataDir, From: local, Doc: "base directory: backups, the secrets file"},
	{Name: "BACKUP_DIR", Type: Dir, Default: under("DATA_DIR", "backups"), From: local, Doc: "where backups live"},
	{Name: "BACKUP_REPO", Type: Dir, Default: under("BACKUP_DIR", "repo"), From: local, Flag: "--repo", Doc: "the repository"},
	{Name: "BACKUP_AGE_RECIPIENT", Type: Text, From: local, Doc: "age recipients, comma/space separated, or a recipients file; unset: unencrypted"},
	{Name: "BACKUP_AGE_RECIPIENTS_FILE", Type: File, From: local, Doc: "an age recipients file"},
	{Name: "BACKUP_AGE_IDENTITY", Type: File, From: local, Doc: "the age identity file (restore, check of blob contents)"},
	{Name: "PREFIX", Type: Dir, Default: constant(TermuxPrefix), From: local, Doc: "Termux's $PREFIX"},
	{Name: "ROOTFS_DIR", Type: Dir, Default: DefaultRootfsDir, From: local, Doc: "source of backup rootfs: the proot-distro Debian"},
	{Name: "DB_DIR", Type: Dir, Default: under("ROOTFS_DIR", "var/lib/conduwuit/db"), From: local, Doc: "source of backup db"},
	{Name: "BACKUP_KEEP_DB", Type: Count, Default: constant("3"), From: local, Flag: "--keep db=N", Doc: "db snapshots (and archives) kept by retention"},
	{Name: "BACKUP_KEEP_ROOTFS", Type: Count, Default: constant("4"), From: local, Flag: "--keep rootfs=N", Doc: "rootfs snapshots (and archives) kept by retention"},
	{Name: "BACKUP_COMPAT", Type: Bool, Default: constant("false"), From: local, Flag: "--compat", Doc: "also write the classic archive of each backup"},
	{Name: "DB_STOP_CMD", Type: Command, From: local, Flag: "--db-stop-cmd", Doc: "stops the homeserver while backup db stages its directory"},
	{Name: "DB_START_CMD", Type: Command, From: local, Flag: "--db-start-cmd", Doc: "starts it again once staged"},
	{Name: "DB_IMMUTABLE_GLOBS", Type: Globs, Default: constant(stage.DefaultImmutable), From: local, Doc: "files of the db hard-linked rather than copied when staging"},
	{Name: "STACK_STOP_CMD", Type: Command, From: local, Flag: "--stop-cmd", Doc: "stops the services before a restore swaps directories"},
	{Name: "STACK_START_CMD", Type: Command, From: local, Flag: "--start-cmd", Doc: "starts them again afterwards"},
	{Name: "ENABLE_BACKUP_DAEMON", Type: Bool, Default: constant("false"), From: local, Doc: "lets pocketsnap daemon run"},
	{Name: "BACKUP_DAEMON_HOUR", Type: Hour, Default: constant("4"), From: local, Doc: "the daemon's daily wake, 0-23, UTC"},
	{Name: "BACKUP_DB_CADENCE", Type: Cadence, Default: constant("daily"), From: local, Doc: "db backups: daily, weekly (Mondays) or monthly (the 1st)"},
	{Name: "BACKUP_DAEMON_HC_URL", Type: PingURL, From: local, Secret: true, Doc: "heartbeat ping URL; only its host is logged"},
	{Name: "ENABLE_OFFSITE_BACKUP", Type: Bool, Default: constant("false"), From: local, Doc: "push refuses to run unless true"},
	{Name: "OFFSITE_MAX_UPLOAD_PER_RUN", Type: Text, From: local, Flag: "--max-upload", Doc: "bytes one push may send; the next continues"},
	{Name: "OFFSITE_NETWORK", Type: Choice("any", "wifi"), Default: constant("any"), From: local, Doc: "wifi: the daemon pushes only on Wi-Fi (on Linux: a connection NetworkManager knows unmetered); an unknown state waits"},
	{Name: "OFFSITE_WHEN_CMD", Type: Command, From: local, Doc: "decides instead whether the daemon may push: exit 0 = go"},
	{Name: "BACKUP_POWER", Type: Choice("any", "charging"), Default: constant("any"), From: local, Doc: "charging: the rootfs backup and the push wait for the charger"},
	{Name: "BACKUP_MIN_BATTERY", Type: Percent, Default: constant("0"), From: local, Doc: "below this battery percentage, unless charging, the rootfs backup and the push wait"},
	{Name: "BACKUP_RECHECK", Type: Duration, Default: constant("30m"), From: local, Doc: "how often the daemon asks again while a job waits for its conditions"},
	{Name: "BACKUP_DEFER_ALERT", Type: Duration, Default: constant("3d"), From: local, Doc: "a job waiting this long makes every wake ping <url>/fail"},
	{Name: "BACKUP_REPO_FINGERPRINT", Type: Text, From: local, Flag: "--expect-fingerprint", Doc: "the fingerprint init printed; restore and export refuse another"},
	{Name: "PACK_PADDING", Type: Text, Default: constant("none"), From: local, Doc: "padme: pad every stored pack to a Padmé length"},
	{Name: "BACKUP_KEEP_" + kindPattern, Type: Count, From: local, Flag: "--keep KIND=N", Doc: "snapshots of another kind kept by retention (unset: all)"},
	{Name: kindPattern + "_STOP_CMD", Type: Command, From: local, Doc: "stops what writes a kind's source while it is read"},
	{Name: kindPattern + "_START_CMD", Type: Command, From: local, Doc: "starts it again"},
	{Name: kindPattern + "_IMMUTABLE_GLOBS", Type: Globs, Default: constant(stage.DefaultImmutable), From: local, Doc: "files of a kind hard-linked rather than copied when staging"},

	{Name: "S3_ENDPOINT", Type: Endpoint, From: FromSecrets, Offsite: true, Doc: "the bucket's S3 endpoint, https only"},
	{Name: "S3_BUCKET", Type: Text, From: FromSecrets, Offsite: true, Doc: "the bucket"},
	{Name: "S3_REGION", Type: Text, From: FromSecrets, Doc: "the bucket's region"},
	{Name: "S3_ACCESS_KEY_ID", Type: Text, From: FromSecrets, Offsite: true, Secret: true, Doc: "the access key"},
	{Name: "S3_SECRET_ACCESS_KEY", Type: Text, From: FromSecrets, Offsite: true, Secret: true, Doc: "the secret key"},
	{Name: "S3_PREFIX", Type: Text, From: FromSecrets, Doc: "prefix of pocketsnap's objects in the bucket"},
	{Name: "S3_CA_FILE", Type: File, From: FromSecrets, Doc: "a private CA's certificate (self-hosted MinIO)"},
	{Name: "S3_DNS_SERVERS", Type: Text, From: FromSecrets, Doc: "nameservers (IP or IP:port, comma separated) for the bucket's host where /etc/resolv.conf and $PREFIX/etc/resolv.conf are missing or wrong"},
}

// local are the sources of every key but the secrets.
const local = FromFile | FromEnv

// TermuxPrefix is Termux's $PREFIX, the default of PREFIX.
const TermuxPrefix = "/data/data/com.termux/files/usr"

// DefaultRootfsDir is ROOTFS_DIR's default: proot-distro's Debian under
// PREFIX, in proot-distro 5's containers/debian/rootfs or the legacy
// installed-rootfs/debian, whichever exists (see prootdistro.Rootfs).
func DefaultRootfsDir(v Values) string {
	dir, _ := prootdistro.Rootfs(v.Value("PREFIX"), "debian")
	return dir
}

// defaultDataDir is DATA_DIR's default: pocketsnap's directory of
// $XDG_DATA_HOME, else of ~/.local/share.
func defaultDataDir(v Values) string {
	if x := v.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "pocketsnap")
	}
	if h := v.Getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "share", "pocketsnap")
	}
	return "pocketsnap-data"
}

func constant(s string) func(Values) string { return func(Values) string { return s } }

// under is a default below another key's directory.
func under(key, rel string) func(Values) string {
	return func(v Values) string { return filepath.Join(v.Value(key), rel) }
}

// lookupKey returns the row of a key: its own, or its family's.
func lookupKey(name string) (Key, bool) {
	for _, k := range Keys {
		if k.Name == name {
			return k, true
		}
	}
	for _, k := range Keys {
		if k.member(name) {
			return k, true
		}
	}
	return Key{}, false
}

// member reports whether name belongs to the family k.
func (k Key) member(name string) bool {
	pre, suf, ok := strings.Cut(k.Name, kindPattern)
	if !ok || len(name) <= len(pre)+len(suf) || !strings.HasPrefix(name, pre) || !strings.HasSuffix(name, suf) {
		return false
	}
	// A kind may begin with a digit (manifest.CheckKind): its keys are
	// then no shell name and can only be unset, but they are members.
	kind := name[len(pre) : len(name)-len(suf)]
	return isName("K"+kind) && strings.ToUpper(kind) == kind && !strings.HasPrefix(name, "S3_")
}

// Family reports whether the row is a family of keys, one per kind.
func (k Key) Family() bool { return strings.Contains(k.Name, kindPattern) }
