package main

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/config"
	"github.com/pocketsnap/pocketsnap/internal/keyfile"
	"github.com/pocketsnap/pocketsnap/manifest"
)

// checkConfig validates the configuration: config.Check with the checks
// that need the repository's knowledge (age recipients and identities,
// snapshot kinds), and whether the repository is encrypted as asked.
func checkConfig(e *env) []config.Problem {
	recipients := func(key, _ string) error {
		t, err := e.recipientText(key)
		if err == nil {
			_, _, err = chunkstore.ParseRecipients(t)
		}
		return err
	}
	ps := config.Check(e.cfg, map[string]config.Checker{
		"BACKUP_AGE_RECIPIENT":       recipients,
		"BACKUP_AGE_RECIPIENTS_FILE": recipients,
		"BACKUP_AGE_IDENTITY":        e.checkIdentity,
		config.KeepFamily: func(key, v string) error {
			_, err := config.KeepCount(config.Kind(config.KeepFamily, key), v, manifest.CheckKind)
			return err
		},
	})
	if err := e.encryptionAsConfigured(); err != nil {
		ps = append(ps, config.Problem{Key: "BACKUP_AGE_RECIPIENT", Source: e.cfg.Source("BACKUP_AGE_RECIPIENT"), Problem: err.Error()})
	}
	return ps
}

// checkIdentity checks the identity file as every command that reads it
// does (see keyfile.Identities): it exists, only its owner can read it,
// and it holds age identities. Its contents are never shown.
func (e *env) checkIdentity(_, path string) error {
	_, err := keyfile.Identities("BACKUP_AGE_IDENTITY", path)
	var le *keyfile.LooseError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s does not exist", path)
	case errors.As(err, &le):
		return fmt.Errorf("%s has mode %04o: others may read the private key (%s)", path, le.Mode, strings.TrimPrefix(le.Hint(), "run: "))
	case errors.Is(err, keyfile.ErrInvalidIdentity):
		return fmt.Errorf("%s is not a valid age identity file", path)
	}
	return err
}

// errNotEncrypted is the repository being plaintext while the
// configuration asks for encryption.
var errNotEncrypted = errors.New("the repository is not encrypted")

// encryptionAsConfigured returns an error wrapping errNotEncrypted when
// recipients are configured and the repository exists unencrypted
// (issue 18.13); nil when it does not exist yet, or when the recipients
// do not parse (reported on their own).
func (e *env) encryptionAsConfigured() error {
	recs, err := e.recipients()
	if err != nil || len(recs) == 0 {
		return nil
	}
	s, err := chunkstore.Open(e.cfg.Value("BACKUP_REPO"))
	if err != nil {
		return nil
	}
	defer s.Close()
	return e.requireEncrypted(s)
}

// requireEncrypted returns an error wrapping errNotEncrypted when s is
// plaintext and recipients are configured.
func (e *env) requireEncrypted(s *chunkstore.Store) error {
	if len(s.Config().Recipients) > 0 {
		return nil
	}
	if recs, err := e.recipients(); err != nil || len(recs) == 0 {
		return nil
	}
	return &hintError{
		err: fmt.Errorf("%w: BACKUP_AGE_RECIPIENT (%s) asks for encryption, but %s was created without it, and backups into it would stay plaintext",
			errNotEncrypted, e.cfg.Source("BACKUP_AGE_RECIPIENT"), s.Dir()),
		hint: fmt.Sprintf("move the snapshots into a new encrypted repository, verified: BACKUP_AGE_IDENTITY=KEYFILE pocketsnap migrate --to %s.age; then set BACKUP_REPO=%s.age", s.Dir(), s.Dir()),
	}
}
