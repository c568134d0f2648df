package chunkstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
	"github.com/pocketsnap/pocketsnap/internal/fsync"
)

// Names inside a repository directory.
const (
	configFile     = "config"
	secretsFileAge = "keys/secrets.age"
	secretsFile    = "keys/secrets"
	dataDir        = "data"
	localDir       = "local"
	localKeys      = "local/keys"
	localIndex     = "local/index"
)

// ErrNotExist is returned by [Open] when dir holds no repository.
var ErrNotExist = errors.New("no repository")

// Store is an open repository.
type Store struct {
	dir   string
	cfg   Config
	codec *Codec
	log   *indexLog

	keysOnce sync.Once
	keys     *Keys
	keysErr  error

	indexOnce sync.Once
	index     *Index
	indexErr  error

	enc   *zstd.Encoder
	dec   *zstd.Decoder
	packs *packCache
}

// Init creates a repository in dir, which must not hold one already. With
// no recipients the repository is unencrypted (zstd only).
func Init(dir string, recipients []string) (*Store, error) {
	return InitWith(dir, recipients, DefaultChunking)
}

// InitWith is Init with chunking parameters other than the defaults, for
// measuring them.
func InitWith(dir string, recipients []string, ch Chunking) (*Store, error) {
	if _, err := os.Stat(filepath.Join(dir, configFile)); err == nil {
		return nil, fmt.Errorf("a repository already exists in %s", dir)
	}
	recs, _, err := ParseRecipients(strings.Join(recipients, "\n"))
	if err != nil {
		return nil, err
	}
	cfg, err := newConfig(recipients)
	if err != nil {
		return nil, err
	}
	cfg.Chunking = ch
	keys, err := NewKeys()
	if err != nil {
		return nil, err
	}
	kb, err := json.Marshal(keys)
	if err != nil {
		return nil, err
	}
	codec := NewCodec(recs)
	sealed, err := codec.SealBytes(kb)
	if err != nil {
		return nil, fmt.Errorf("failed to encrypt secrets: %w", err)
	}
	name := secretsFile
	if codec.Encrypted() {
		name = secretsFileAge
	}
	for _, d := range []string{dataDir, "snapshots", localDir} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("failed to create repository: %w", err)
		}
	}
	if err := fsync.WriteFile(filepath.Join(dir, localKeys), 0o600, kb); err != nil {
		return nil, fmt.Errorf("failed to write %s: %w", localKeys, err)
	}
	if err := fsync.WriteFile(filepath.Join(dir, name), 0o600, sealed); err != nil {
		return nil, fmt.Errorf("failed to write %s: %w", name, err)
	}
	cb, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	// The config is written last: a repository exists once it is there.
	if err := fsync.WriteFile(filepath.Join(dir, configFile), 0o644, append(cb, '\n')); err != nil {
		return nil, fmt.Errorf("failed to write config: %w", err)
	}
	return Open(dir)
}

// Open opens the repository in dir. Identities are optional; without them
// the store can write and verify but not read blobs back.
func Open(dir string) (*Store, error) {
	b, err := os.ReadFile(filepath.Join(dir, configFile))
	if os.IsNotExist(err) {
		return nil, fmt.Errorf("%w in %s", ErrNotExist, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read repository config: %w", err)
	}
	cfg, err := parseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("invalid repository config %s: %w", filepath.Join(dir, configFile), err)
	}
	recs, _, err := ParseRecipients(strings.Join(cfg.Recipients, "\n"))
	if err != nil {
		return nil, fmt.Errorf("invalid repository config: %w", err)
	}
	// A 1 MiB window: blobs are at most a few MiB and are compressed on
	// their own, so longer matches are rare, and each encoder's history
	// stays small on a phone.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderCRC(false),
		zstd.WithLowerEncoderMem(true), zstd.WithWindowSize(1<<20))
	if err != nil {
		return nil, err
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxBlobSize), zstd.WithDecoderConcurrency(0))
	if err != nil {
		return nil, err
	}
	s := &Store{
		dir:   dir,
		cfg:   cfg,
		codec: NewCodec(recs),
		log:   &indexLog{path: filepath.Join(dir, localIndex)},
		enc:   enc,
		dec:   dec,
	}
	s.packs = newPackCache(s, 16)
	return s, nil
}

// Close releases resources held by the store.
func (s *Store) Close() error {
	s.packs.closeAll()
	s.dec.Close()
	return s.enc.Close()
}

// Dir returns the repository directory.
func (s *Store) Dir() string { return s.dir }

// Config returns the repository configuration.
func (s *Store) Config() Config { return s.cfg }

// Codec returns the codec that seals and opens the repository's objects.
func (s *Store) Codec() *Codec { return s.codec }

// SetIdentities provides age identities for reading encrypted data.
func (s *Store) SetIdentities(ids []age.Identity) { s.codec.SetIdentities(ids) }

// Lock takes the repository lock: exclusive for writers, shared for
// readers. It fails at once with a *LockedError if it is taken.
func (s *Store) Lock(exclusive bool) (*Lock, error) {
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
func (s *Store) Keys() (*Keys, error) {
	s.keysOnce.Do(func() { s.keys, s.keysErr = s.loadKeys() })
	return s.keys, s.keysErr
}

func (s *Store) loadKeys() (*Keys, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, localKeys))
	if os.IsNotExist(err) {
		name := secretsFile
		if s.codec.Encrypted() {
			name = secretsFileAge
		}
		sealed, rerr := os.ReadFile(filepath.Join(s.dir, name))
		if rerr != nil {
			return nil, fmt.Errorf("failed to read repository secrets: %w", rerr)
		}
		if b, err = s.codec.OpenBytes(sealed); err != nil {
			return nil, fmt.Errorf("failed to decrypt repository secrets %s: %w", name, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("failed to read %s: %w", localKeys, err)
	}
	var k Keys
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("invalid repository secrets: %w", err)
	}
	return &k, nil
}

// Index returns the blob index, loading it on first use: from the device's
// plaintext log, or, where the repository has no such log (a copy on the
// machine that holds the identity), by reading every pack's trailer.
func (s *Store) Index() (*Index, error) {
	s.indexOnce.Do(func() { s.index, s.indexErr = s.loadIndex() })
	return s.index, s.indexErr
}

func (s *Store) loadIndex() (*Index, error) {
	if _, err := os.Stat(s.log.path); os.IsNotExist(err) {
		packs, err := s.ListPacks()
		if err != nil {
			return nil, err
		}
		if len(packs) > 0 {
			return s.rebuildIndex(packs)
		}
	}
	return s.log.load(func(id ID) bool {
		_, err := os.Stat(s.packPath(id))
		return err == nil
	})
}

// rebuildIndex reads the trailer of every pack (which needs the identity).
func (s *Store) rebuildIndex(packs []ObjectInfo) (*Index, error) {
	ix := newIndex()
	for _, p := range packs {
		entries, err := s.packTrailer(p.ID)
		if err != nil {
			return nil, err
		}
		ix.add(PackInfo{ID: p.ID, Size: p.Size, Blobs: entries})
	}
	return ix, nil
}

func (s *Store) packPath(id ID) string {
	h := id.String()
	return filepath.Join(s.dir, dataDir, h[:2], h)
}

// Path returns the absolute path of a repository-relative name.
func (s *Store) Path(name string) string { return filepath.Join(s.dir, filepath.FromSlash(name)) }

// WriteFile stores data atomically under a repository-relative name.
func (s *Store) WriteFile(name string, data []byte) error {
	return fsync.WriteFile(s.Path(name), 0o600, data)
}

// CheckIdentity verifies that the identities given to SetIdentities open
// this repository, by decrypting its secrets. It returns ErrNoIdentity or
// ErrWrongIdentity otherwise, before any data is touched.
func (s *Store) CheckIdentity() error {
	if !s.codec.Encrypted() {
		return nil
	}
	sealed, err := os.ReadFile(filepath.Join(s.dir, secretsFileAge))
	if err != nil {
		return fmt.Errorf("failed to read repository secrets: %w", err)
	}
	if _, err := s.codec.OpenBytes(sealed); err != nil {
		return fmt.Errorf("failed to decrypt %s: %w", secretsFileAge, err)
	}
	return nil
}
