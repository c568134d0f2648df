package layers

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/pocketsnap/pocketsnap/"

// forbidden maps a package to the packages it must not depend on, directly
// or indirectly.
var forbidden = map[string][]string{
	"chunkstore": {"manifest", "pipeline", "restore", "extract", "cmd/pocketsnap", "github.com/spf13/pflag"},
	"manifest":   {"pipeline", "restore", "extract", "cmd/pocketsnap", "github.com/spf13/pflag"},
	"pipeline":   {"restore", "extract", "cmd/pocketsnap", "github.com/spf13/pflag"},
	"extract":    {"chunkstore", "manifest", "pipeline", "restore", "cmd/pocketsnap", "github.com/spf13/pflag"},
	"restore":    {"cmd/pocketsnap", "github.com/spf13/pflag"},
	// export writes a snapshot as a classic archive; it knows nothing of
	// restoring, the bucket's transport or the command line.
	"export":        {"restore", "extract", "remote", "offsite", "prune", "daemon", "cmd/pocketsnap", "github.com/spf13/pflag"},
	"check":         {"restore", "extract", "compat", "remote", "cmd/pocketsnap", "github.com/spf13/pflag"},
	"compat":        {"pipeline", "restore", "extract", "cmd/pocketsnap", "github.com/spf13/pflag"},
	"retention":     {"chunkstore", "manifest", "pipeline", "restore", "extract", "compat", "cmd/pocketsnap"},
	"hooks":         {"chunkstore", "manifest", "pipeline", "restore", "extract", "compat", "cmd/pocketsnap"},
	"internal/tree": {"chunkstore", "manifest", "pipeline", "restore", "extract", "compat", "stage", "cmd/pocketsnap"},
	// Only config reads env files; it knows keys and values, never the
	// repository.
	"config": {"chunkstore", "manifest", "pipeline", "remote", "restore", "extract", "compat", "daemon", "cmd/pocketsnap", "github.com/spf13/pflag"},
	// migrate moves snapshots between stores; it never runs a backup or a
	// restore.
	"migrate":           {"pipeline", "restore", "extract", "compat", "remote", "cmd/pocketsnap", "github.com/spf13/pflag"},
	"stage":             {"chunkstore", "manifest", "pipeline", "restore", "extract", "compat", "cmd/pocketsnap"},
	"internal/memlimit": {"chunkstore", "manifest", "pipeline", "restore", "extract", "compat", "config", "cmd/pocketsnap"},
	"internal/proc":     {"chunkstore", "manifest", "pipeline", "restore", "extract", "compat", "hooks", "cmd/pocketsnap"},
	// The store interface knows nothing above objects.
	"objstore":              {"chunkstore", "manifest", "pipeline", "restore", "extract", "compat", "remote", "offsite", "prune", "cmd/pocketsnap"},
	"objstore/objstoretest": {"chunkstore", "manifest", "pipeline", "restore", "extract", "compat", "remote", "offsite", "prune", "cmd/pocketsnap"},
	// The bucket's transport knows objects, not snapshots; pushing and
	// pruning sit above it.
	"remote": {"manifest", "retention", "pipeline", "restore", "extract", "compat", "offsite", "prune", "cmd/pocketsnap", "github.com/spf13/pflag"},
	// The bucket's settings: config builds them, remote dials with them.
	"remote/s3conf": {"chunkstore", "manifest", "config", "remote", "offsite", "prune", "job", "daemon", "internal/keyfile", "cmd/pocketsnap"},
	"offsite":       {"prune", "pipeline", "restore", "extract", "config", "cmd/pocketsnap", "github.com/spf13/pflag"},
	"prune":         {"pipeline", "restore", "extract", "cmd/pocketsnap", "github.com/spf13/pflag"},
	// The jobs are operations over the library: two front ends (the CLI
	// and the daemon's runner) call them, and they know neither, nor
	// flags, nor the configuration's files.
	"job": {"daemon", "config", "cmd/pocketsnap", "github.com/spf13/pflag", "internal/miniotest", "internal/faultproxy"},
	// Test harnesses stand alone, and the binary never links them.
	"internal/miniotest":  {"chunkstore", "manifest", "pipeline", "restore", "extract", "compat", "cmd/pocketsnap"},
	"internal/faultproxy": {"chunkstore", "manifest", "pipeline", "restore", "extract", "compat", "cmd/pocketsnap"},
	"internal/golden":     {"chunkstore", "manifest", "pipeline", "restore", "extract", "compat", "cmd/pocketsnap"},
	"internal/fsimage":    {"chunkstore", "manifest", "pipeline", "restore", "extract", "compat", "cmd/pocketsnap"},
	"internal/repotest":   {"restore", "extract", "compat", "remote", "offsite", "prune", "job", "cmd/pocketsnap"},
	"internal/testenv":    {"chunkstore", "manifest", "pipeline", "restore", "extract", "compat", "cmd/pocketsnap"},
	"internal/testtree":   {"chunkstore", "manifest", "pipeline", "restore", "extract", "compat", "cmd/pocketsnap"},
	"cmd/pocketsnap":      {"internal/miniotest", "internal/faultproxy", "internal/golden", "internal/fsimage", "objstore/objstoretest", "internal/repotest", "internal/testenv", "internal/testtree"},
	// Leaves that the repository's own packages build on.
	"internal/flock": {"chunkstore", "manifest", "pipeline", "restore", "extract", "compat", "daemon", "cmd/pocketsnap"},
	// keyfile opens secret files; config builds on it, so it knows
	// nothing above the files.
	"internal/keyfile": {"chunkstore", "manifest", "pipeline", "restore", "extract", "compat", "config", "remote", "offsite", "job", "daemon", "cmd/pocketsnap"},
	"internal/fsync":   {"chunkstore", "manifest", "pipeline", "restore", "extract", "compat", "daemon", "cmd/pocketsnap"},
	// The benchmark and study tools stand beside the binary, never in it.
	"internal/cmd/benchkv":    {"chunkstore", "cmd/pocketsnap"},
	"internal/cmd/benchmonth": {"chunkstore", "cmd/pocketsnap"},
	"internal/cmd/gentree":    {"chunkstore", "cmd/pocketsnap"},
	"internal/cmd/treetool":   {"chunkstore", "cmd/pocketsnap"},
	"internal/cmd/chunkstudy": {"restore", "extract", "remote", "offsite", "cmd/pocketsnap"},
	// This package holds only the test.
	"internal/layers": {"chunkstore", "cmd/pocketsnap"},
	// The scheduling packages know nothing of repositories: the daemon
	// reaches backups through its Runner, which cmd/pocketsnap provides.
	// Nor does it read the configuration: its front end loads Settings.
	"daemon":      {"chunkstore", "manifest", "pipeline", "restore", "extract", "compat", "heartbeat", "idle", "job", "config", "cmd/pocketsnap", "github.com/spf13/pflag"},
	"schedule":    {"chunkstore", "manifest", "pipeline", "restore", "extract", "compat", "daemon", "heartbeat", "idle", "cmd/pocketsnap"},
	"heartbeat":   {"chunkstore", "manifest", "pipeline", "restore", "extract", "compat", "daemon", "schedule", "idle", "cmd/pocketsnap"},
	"conditions":  {"config", "job", "chunkstore", "manifest", "pipeline", "restore", "extract", "compat", "daemon", "schedule", "heartbeat", "idle", "hooks", "cmd/pocketsnap", "github.com/spf13/pflag"},
	"idle":        {"chunkstore", "manifest", "pipeline", "restore", "extract", "compat", "daemon", "schedule", "heartbeat", "cmd/pocketsnap"},
	"prootdistro": {"chunkstore", "manifest", "pipeline", "restore", "extract", "compat", "remote", "daemon", "cmd/pocketsnap"},
	// Network configuration is a leaf: remote uses it, it uses nothing of ours.
	"netconf": {"chunkstore", "manifest", "pipeline", "restore", "extract", "compat", "remote", "daemon", "cmd/pocketsnap"},
}

// Issue 19: every package of the module has a row, so that a new one
// cannot escape the layering rules by being left out.
func TestEveryPackageHasARow(t *testing.T) {
	out, err := exec.Command("go", "list", mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := strings.Fields(string(out))
	if len(pkgs) < len(forbidden)/2 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		if _, ok := forbidden[strings.TrimPrefix(p, mod)]; !ok {
			t.Errorf("%s has no row in forbidden: say what it must not depend on", p)
		}
	}
}

func TestLayering(t *testing.T) {
	for pkg, bad := range forbidden {
		out, err := exec.Command("go", "list", "-deps", mod+pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		deps := map[string]bool{}
		for _, d := range strings.Fields(string(out)) {
			deps[d] = true
		}
		for _, b := range bad {
			if !strings.Contains(b, ".") {
				b = mod + b
			}
			if deps[b] {
				t.Errorf("%s depends on %s", pkg, b)
			}
		}
	}
}
