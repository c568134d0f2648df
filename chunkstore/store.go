package chunkstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
	"github.com/pocketsnap/pocketsnap/internal/fsync"
)

// ConfigName is the repository-relative name of the config object.
const ConfigName = configFile

// LocalDir is the repository-relative name of the device's own
// directory: its secrets, caches and records, never pushed.
const LocalDir = "local"

// Local returns the repository-relative name of name inside [LocalDir],
// for [Store.Path] and [Store.WriteFile]. Every package names the
// device's files through it.
func Local(name string) string { return path.Join(LocalDir, name) }

// KeysName is the repository-relative name of the device's secrets.
var KeysName = Local("keys")

// Names inside a repository directory.
const (
	configFile     = "config"
	secretsFileAge = "keys/secrets.age"
	secretsFile    = "keys/secrets"
	dataDir        = "data"
)

// Names of the device's files.
var (
	localIndex   = Local("index")
	remoteIndex  = Local("remote-index")
	adoptedIndex = Local("adopted-index")
)

// ErrReadOnly is returned by the writing methods of a store opened with
// [OpenFS].
var ErrReadOnly = errors.New("the repository is read-only here")

// ErrNotExist is returned by [Open] when dir holds no repository.
var ErrNotExist = errors.New("no repository")

// Store is an open repository.
type Store struct {
	// dir is the repository directory; empty for a read-only store.
	dir   string
	fsys  fs.FS
	cfg   Config
	codec *Codec
	log   *indexLog
	// bucket is what the device knows is in its bucket (see remote.go).
	bucket remoteState

	keysOnce sync.Once
	keys     *Keys
	keysErr  error
	keysFile string // repository-relative name the keys were read from

	tableOnce sync.Once
	table     *packTableKeys
	tableErr  error

	indexOnce sync.Once
	index     *Index
	indexErr  error

	warn func(string)

	encs    [numLevels]*zstd.Encoder
	dec     *zstd.Decoder
	packs   *packCache
	padding Padding
}

// Init creates a repository in dir, which must not hold one already. With
// no recipients the repository is unencrypted (zstd only).
func Init(dir string, recipients []string) (*Store, error) {
	return InitWith(dir, recipients, DefaultChunking)
}

// InitWith is Init with chunking parameters other than the defaults, for
// measuring them.
func InitWith(dir string, recipients []string, ch Chunking) (*Store, error) {
	return InitVersion(dir, recipients, ch, FormatVersion)
}

// InitVersion is InitWith in an older format version, from 1 to
// [FormatVersion]: for the fixtures and tests that keep repositories of
// every version working.
func InitVersion(dir string, recipients []string, ch Chunking, version int) (*Store, error) {
	if version < 1 || version > FormatVersion {
		return nil, fmt.Errorf("no repository format version %d", version)
	}
	recs, _, err := ParseRecipients(strings.Join(recipients, "\n"))
	if err != nil {
		return nil, err
	}
	cfg, err := newConfig(recipients)
	if err != nil {
		return nil, err
	}
	cfg.Chunking, cfg.Version = ch, version
	keys, err := NewKeys()
	if err != nil {
		return nil, err
	}
	kb, err := json.Marshal(keys)
	if err != nil {
		return nil, err
	}
	sealed, err := NewCodec(recs).SealBytes(kb)
	if err != nil {
		return nil, fmt.Errorf("failed to encrypt secrets: %w", err)
	}
	return create(dir, cfg, keys, sealed)
}

// Clone creates a repository in dir that is src on this device: the same
// config and stored secrets, and the device's plaintext copy of the
// secrets, which needs src's identity. It copies no pack; see
// [Store.Adopt].
func Clone(dir string, src *Store) (*Store, error) {
	keys, err := src.Keys()
	if err != nil {
		return nil, err
	}
	sealed, err := fs.ReadFile(src.fsys, src.SecretsName())
	if err != nil {
		return nil, fmt.Errorf("failed to read repository secrets: %w", err)
	}
	return create(dir, src.cfg, keys, sealed)
}

// create writes a new repository's files: cfg, signed with keys, the
// device's plaintext keys, and sealed, their stored form.
func create(dir string, cfg Config, keys *Keys, sealed []byte) (*Store, error) {
	if _, err := os.Stat(filepath.Join(dir, configFile)); err == nil {
		return nil, fmt.Errorf("a repository already exists in %s", dir)
	}
	name := secretsFile
	if cfg.Encoding == EncodingAge {
		name = secretsFileAge
	}
	for _, d := range []string{dataDir, "snapshots", LocalDir} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("failed to create repository: %w", err)
		}
	}
	kb, err := json.Marshal(keys)
	if err != nil {
		return nil, err
	}
	cb, err := cfg.encode(keys)
	if err != nil {
		return nil, err
	}
	if err := fsync.WriteFile(filepath.Join(dir, KeysName), 0o600, kb); err != nil {
		return nil, fmt.Errorf("failed to write %s: %w", KeysName, err)
	}
	if err := fsync.WriteFile(filepath.Join(dir, name), 0o600, sealed); err != nil {
		return nil, fmt.Errorf("failed to write %s: %w", name, err)
	}
	// The config is written last: a repository exists once it is there.
	if err := fsync.WriteFile(filepath.Join(dir, configFile), 0o644, cb); err != nil {
		return nil, fmt.Errorf("failed to write config: %w", err)
	}
	return Open(dir)
}

// Open opens the repository in dir. Identities are optional; without them
// the store can write and verify but not read blobs back.
func Open(dir string) (*Store, error) {
	s, err := open(dir, os.DirFS(dir))
	if err != nil {
		return nil, err
	}
	s.log = &indexLog{path: filepath.Join(dir, localIndex), table: filepath.Join(dir, localIndex) + ".table"}
	s.bucket = remoteState{
		log:     &indexLog{path: filepath.Join(dir, remoteIndex)},
		adopted: &indexLog{path: filepath.Join(dir, adoptedIndex)},
	}
	return s, nil
}

// OpenFS opens a read-only view of a repository stored elsewhere, e.g. in
// a bucket: fsys holds the repository's objects under their names. It
// reads the secrets from keys, when given (the device's own, for a copy
// of its repository), or else decrypts them with the identity; the blob
// index is rebuilt from the pack trailers when first needed, which also
// needs the identity. Files of fsys that implement io.ReaderAt are read
// by range; packs must.
func OpenFS(fsys fs.FS, keys *Keys) (*Store, error) {
	s, err := open("", fsys)
	if err != nil {
		return nil, err
	}
	if keys != nil {
		if err := s.cfg.verify(keys); err != nil {
			s.Close()
			return nil, err
		}
		s.keysOnce.Do(func() { s.keys = keys })
	}
	return s, nil
}

func open(dir string, fsys fs.FS) (*Store, error) {
	where := dir
	if where == "" {
		where = fmt.Sprint(fsys)
	}
	b, err := fs.ReadFile(fsys, configFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s", ErrNotExist, where)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read repository config: %w", err)
	}
	cfg, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("invalid repository config %s: %w", path.Join(where, configFile), err)
	}
	recs, _, err := ParseRecipients(strings.Join(cfg.Recipients, "\n"))
	if err != nil {
		return nil, fmt.Errorf("invalid repository config: %w", err)
	}
	encs, err := newEncoders()
	if err != nil {
		return nil, err
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxBlobSize), zstd.WithDecoderConcurrency(0))
	if err != nil {
		closeEncoders(encs)
		return nil, err
	}
	s := &Store{
		dir:   dir,
		fsys:  fsys,
		cfg:   cfg,
		codec: NewCodec(recs),
		encs:  encs,
		dec:   dec,
	}
	s.packs = newPackCache(s, 16)
	return s, nil
}

// Close releases resources held by the store.
func (s *Store) Close() error {
	s.packs.closeAll()
	s.index.close()
	s.dec.Close()
	return closeEncoders(s.encs)
}

// Dir returns the repository directory; empty for a read-only store
// ([OpenFS]).
func (s *Store) Dir() string { return s.dir }

// FS returns the repository's objects as a file system, for reading.
func (s *Store) FS() fs.FS { return s.fsys }

// ReadOnly reports whether the store was opened with [OpenFS].
func (s *Store) ReadOnly() bool { return s.dir == "" }

// Config returns the repository configuration.
func (s *Store) Config() Config { return s.cfg }

// Codec returns the codec that seals and opens the repository's objects.
func (s *Store) Codec() *Codec { return s.codec }

// SetIdentities provides age identities for reading encrypted data.
func (s *Store) SetIdentities(ids []age.Identity) { s.codec.SetIdentities(ids) }

// Lock takes the repository lock: exclusive for writers, shared for
// readers. It fails at once with a *LockedError if it is taken. A
// shared lock on a read-only or not writable repository without a lock
// file fails with an *UnlockedError, having created nothing.
func (s *Store) Lock(exclusive bool) (*Lock, error) {
	if s.ReadOnly() {
		if exclusive {
			return nil, ErrReadOnly
		}
		// Nothing to exclude: this process only reads the objects.
		return &Lock{}, nil
	}
	l, err := lockRepo(s.dir, exclusive)
	if err != nil {
		return nil, err
	}
	if exclusive {
		if err := sweepTemps(s.dir); err != nil {
			l.Unlock()
			return nil, err
		}
	}
	return l, nil
}

// Keys returns the repository secrets: from the device's plaintext copy,
// or, on a machine that holds the identity, decrypted from the repository.
// The config's MAC is checked against them before they are returned.
func (s *Store) Keys() (*Keys, error) {
	s.keysOnce.Do(func() {
		if s.keys, s.keysErr = s.loadKeys(); s.keysErr == nil {
			s.keysErr = s.cfg.verify(s.keys)
		}
	})
	return s.keys, s.keysErr
}

func (s *Store) loadKeys() (*Keys, error) {
	if s.ReadOnly() {
		s.keysFile = s.SecretsName()
		return s.decryptSecrets()
	}
	s.keysFile = KeysName
	b, err := os.ReadFile(filepath.Join(s.dir, KeysName))
	if os.IsNotExist(err) {
		s.keysFile = s.SecretsName()
		return s.decryptSecrets()
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read %s: %w", KeysName, err)
	}
	return parseKeys(b, KeysName)
}

// SecretsName is the repository-relative name of the stored secrets.
func (s *Store) SecretsName() string {
	if s.codec.Encrypted() {
		return secretsFileAge
	}
	return secretsFile
}

// decryptSecrets reads the secrets stored in the repository, which needs
// the identity when it is encrypted.
func (s *Store) decryptSecrets() (*Keys, error) {
	name := s.SecretsName()
	sealed, err := fs.ReadFile(s.fsys, name)
	if err != nil {
		return nil, fmt.Errorf("failed to read repository secrets: %w", err)
	}
	b, err := s.codec.OpenBytes(sealed)
	if err != nil {
		return nil, fmt.Errorf("failed to decrypt repository secrets %s: %w", name, err)
	}
	return parseKeys(b, name)
}

func parseKeys(b []byte, name string) (*Keys, error) {
	var k Keys
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("invalid repository secrets %s: %w", name, err)
	}
	return &k, nil
}

// Index returns the blob index, loading it on first use: from the device's
// plaintext log, or, where the repository has no such log (a copy on the
// machine that holds the identity), from the packs. Loading never writes:
// see index_repair.go for what is done with a damaged or missing log.
func (s *Store) Index() (*Index, error) {
	s.indexOnce.Do(func() { s.index, s.indexErr = s.loadIndex() })
	return s.index, s.indexErr
}

func (s *Store) packPath(id ID) string {
	return filepath.Join(s.dir, filepath.FromSlash(PackName(id)))
}

// PackName is the repository-relative name of a pack.
func PackName(id ID) string {
	h := id.String()
	return dataDir + "/" + h[:2] + "/" + h
}

// Path returns the absolute path of a repository-relative name.
func (s *Store) Path(name string) string { return filepath.Join(s.dir, filepath.FromSlash(name)) }

// WriteFile stores data atomically under a repository-relative name.
func (s *Store) WriteFile(name string, data []byte) error {
	if s.ReadOnly() {
		return ErrReadOnly
	}
	return fsync.WriteFile(s.Path(name), 0o600, data)
}

// WriteFileFrom is WriteFile for content that fill writes, as a stream.
func (s *Store) WriteFileFrom(name string, fill func(io.Writer) error) error {
	if s.ReadOnly() {
		return ErrReadOnly
	}
	return fsync.WriteAtomic(s.Path(name), 0o600, fill)
}

// CheckIdentity verifies that the identities given to SetIdentities open
// this repository, by decrypting its secrets. It returns ErrNoIdentity or
// ErrWrongIdentity otherwise, before any data is touched. On the device,
// which keeps the secrets in local/keys, it also checks that the stored
// secrets are the same: a *[FingerprintError] says they were replaced,
// which would mislead every machine that adopts the repository later.
func (s *Store) CheckIdentity() error {
	if !s.codec.Encrypted() {
		return nil
	}
	stored, err := s.decryptSecrets()
	if err != nil {
		return err
	}
	k, err := s.Keys()
	if err != nil {
		return err
	}
	if got, want := stored.Fingerprint(), k.Fingerprint(); s.keysFile == KeysName && got != want {
		return &FingerprintError{Secrets: secretsFileAge, Got: got, Want: want, WantFrom: "the device's " + KeysName}
	}
	return nil
}
