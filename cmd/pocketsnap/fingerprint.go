package main

import (
	"github.com/spf13/pflag"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/job"
)

// fingerprintKey is the configuration key that --expect-fingerprint
// overrides.
const fingerprintKey = "BACKUP_REPO_FINGERPRINT"

// fingerprintFlag registers --expect-fingerprint.
func fingerprintFlag(fs *pflag.FlagSet, p *string) {
	fs.StringVar(p, "expect-fingerprint", "", "refuse a repository whose fingerprint is not `FP`, the one 'pocketsnap init' printed (default "+fingerprintKey+")")
}

// printFingerprint tells the user, on stdout, the fingerprint of a new
// repository and what to do with it.
func (e *env) printFingerprint(s *chunkstore.Store) error {
	keys, err := s.Keys()
	if err != nil {
		return err
	}
	e.say(job.Result, "repository fingerprint: %s\nkeep it beside the identity: restore and export check it with --expect-fingerprint (or %s)",
		keys.Fingerprint(), fingerprintKey)
	return nil
}

// checkFingerprint prints the fingerprint of the repository's secrets and
// fails with a *chunkstore.FingerprintError when it is not the expected
// one: flag, or else BACKUP_REPO_FINGERPRINT.
func (e *env) checkFingerprint(s *chunkstore.Store, flag string) error {
	want, from := flag, "--expect-fingerprint"
	if want == "" {
		want, from = e.cfg.Value(fingerprintKey), fingerprintKey+" ("+e.cfg.Source(fingerprintKey)+")"
	}
	var fp chunkstore.Fingerprint
	if want != "" {
		var err error
		if fp, err = chunkstore.ParseFingerprint(want); err != nil {
			return usageErrorf("%s: %v", from, err)
		}
	}
	got, err := s.CheckFingerprint(fp, from)
	switch {
	case err != nil:
		return err
	case fp != "":
		e.ui.infof("repository fingerprint %s, as expected", got)
	default:
		e.ui.infof("repository fingerprint %s (compare it with the one kept beside the identity, or pass --expect-fingerprint)", got)
	}
	return nil
}
