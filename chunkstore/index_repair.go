package chunkstore

import (
	"errors"
	"fmt"
	"os"
)

// The device index (local/index) is a cache of the packs' blob tables.
// Reading commands never change it: a damaged or missing log is reported
// once ([Store.SetWarn]) and completed in memory from the packs. Writing
// commands ([Store.NewWriter], garbage collection) rewrite it before they
// append, and [Store.RepairIndex] rebuilds it on request. In version 2 the
// packs' sealed blob tables need only the device's secrets (local/keys);
// in version 1 the trailers need the identity.

// IndexError says that the device index is damaged or missing and cannot
// be rebuilt with what this machine holds. Its message says what is
// needed.
type IndexError struct {
	// Problem describes the damage in plain words.
	Problem string
	// Err is why the packs could not be read.
	Err error
	// Version is the repository's format version.
	Version int
}

func (e *IndexError) Error() string {
	if e.Version < 2 {
		return fmt.Sprintf("%s %s, and this is a version 1 repository, whose packs list their blobs only inside the encryption: "+
			"rebuilding the index needs the age identity (%v); with BACKUP_AGE_IDENTITY set, run 'pocketsnap repair index'",
			localIndex, e.Problem, e.Err)
	}
	return fmt.Sprintf("%s %s, and the device's secrets (%s) that open the packs' sealed blob tables cannot be read either (%v): "+
		"only the age identity can recover them; with BACKUP_AGE_IDENTITY set, run 'pocketsnap repair index', "+
		"or take the repository over from the bucket with 'pocketsnap init --from-remote'",
		localIndex, e.Problem, KeysName, e.Err)
}

func (e *IndexError) Unwrap() error { return e.Err }

// SetWarn sets where the store reports, once, a damaged or missing device
// index that it completed from the packs.
func (s *Store) SetWarn(warn func(msg string)) { s.warn = warn }

func (s *Store) warnf(format string, args ...any) {
	if s.warn != nil {
		s.warn(fmt.Sprintf(format, args...))
	}
}

// describe says what load found wrong with the log, in plain words; ""
// when nothing that needs a rebuild.
func (st logState) describe(packs int) string {
	switch {
	case st.missing && packs > 0:
		return fmt.Sprintf("is missing or empty while %d packs are stored", packs)
	case st.skipped > 0:
		return fmt.Sprintf("is damaged (%d unreadable records)", st.skipped)
	}
	return ""
}

func (s *Store) loadIndex() (*Index, error) {
	packs, err := s.ListPacks()
	if err != nil {
		return nil, err
	}
	if s.ReadOnly() {
		// A bucket read by range: see "Reading a snapshot" in
		// doc/format.md for why its packs are not hashed first.
		ix := newIndex()
		_, err := s.indexPacks(ix, packs)
		return ix, err
	}
	ix, st, err := s.loadLog(packs)
	if err != nil {
		return nil, err
	}
	problem := st.describe(len(packs))
	if problem == "" && s.cfg.Version < 2 {
		// Packs the log does not name are orphans of a killed backup.
		return ix, nil
	}
	var unindexed []ObjectInfo
	for _, p := range packs {
		if !ix.HasPack(p.ID) {
			unindexed = append(unindexed, p)
		}
	}
	if len(unindexed) == 0 {
		return ix, nil
	}
	if problem == "" && st.torn {
		// Records were lost with the tail (version 1 cannot tell that
		// from a crash during an append, which leaves an orphan).
		problem = "ends in a cut-off record"
	}
	// Version 2 indexes them from their sealed tables, which costs a read
	// of a few hundred bytes each: orphans too, harmlessly, and records
	// lost in any way, even a cut at a record's boundary.
	bad, err := s.indexPacks(ix, unindexed)
	if err != nil {
		if problem == "" {
			problem = fmt.Sprintf("does not name %d of the stored packs", len(unindexed))
		}
		var ie *IndexError
		if errors.As(err, &ie) {
			ie.Problem = problem
		}
		return nil, err
	}
	// Built from the packs' own tables, the index cannot tell a pack
	// stored under another's name: every blob would read back intact.
	// Hash each such pack before its first read instead.
	s.packs.hashFirst = make(map[ID]bool, len(unindexed))
	for _, p := range unindexed {
		s.packs.hashFirst[p.ID] = true
	}
	s.log.dirty = true
	if problem != "" {
		s.warnf("%s %s: it is a cache, completed from the packs for this command; the next backup rewrites it, or run 'pocketsnap repair index'", localIndex, problem)
	}
	if len(bad) > 0 {
		s.warnf("%d pack(s) not in %s have no blob table sealed under this repository's keys, %s first: left out, their blobs are missing; 'pocketsnap check' tells more", len(bad), localIndex, PackName(bad[0]))
	}
	return ix, nil
}

// loadLog reads local/index, leaving out the packs that are not among
// the stored packs.
func (s *Store) loadLog(packs []ObjectInfo) (*Index, logState, error) {
	stored := make(map[ID]bool, len(packs))
	for _, p := range packs {
		stored[p.ID] = true
	}
	return s.log.load(func(id ID) bool { return stored[id] })
}

// indexPacks adds the packs to ix, read from their sealed tables (version
// 2) or their trailers (version 1, which needs the identity). A pack
// whose table is damaged is left out and returned: check reports it, and
// the other packs keep their snapshots readable.
func (s *Store) indexPacks(ix *Index, packs []ObjectInfo) (bad []ID, err error) {
	read := s.packTrailer
	if s.cfg.Version >= 2 {
		read = s.sealedTable
	}
	for _, p := range packs {
		entries, err := read(p.ID)
		switch {
		case errors.Is(err, ErrNoIdentity) || errors.Is(err, ErrWrongIdentity):
			return bad, &IndexError{Err: err, Version: s.cfg.Version}
		case errors.Is(err, ErrCorrupt) || errors.Is(err, ErrMissing):
			bad = append(bad, p.ID)
			continue
		case err != nil:
			return bad, err
		}
		ix.add(PackInfo{ID: p.ID, Size: p.Size, Blobs: entries})
	}
	return bad, nil
}

// writableIndex returns the index for a writing command, which holds the
// exclusive lock: a log that load found dirty is rewritten first, so that
// what is appended follows whole records.
func (s *Store) writableIndex() (*Index, error) {
	ix, err := s.Index()
	if err != nil {
		return nil, err
	}
	if err := s.log.save(ix); err != nil {
		return nil, fmt.Errorf("failed to rewrite %s: %w", localIndex, err)
	}
	return ix, nil
}

// RepairStats says what [Store.RepairIndex] did.
type RepairStats struct {
	Packs, Blobs int
	// Before is the number of packs the log named that are stored.
	Before int
	// Damaged are the packs left out, whose blob table cannot be read.
	Damaged []ID
}

// RepairIndex rebuilds the device index from every stored pack and
// replaces the log with it. Version 2 needs only the device's secrets;
// version 1 needs the identity. The caller holds the exclusive lock.
func (s *Store) RepairIndex() (RepairStats, error) {
	var st RepairStats
	if s.ReadOnly() {
		return st, ErrReadOnly
	}
	packs, err := s.ListPacks()
	if err != nil {
		return st, err
	}
	old, _, err := s.loadLog(packs)
	if err != nil {
		return st, err
	}
	st.Before = old.numPacks()
	old.close()
	// The table is rebuilt too: a repair trusts nothing of the old index.
	if err := os.Remove(s.log.table); err != nil && !errors.Is(err, os.ErrNotExist) {
		return st, fmt.Errorf("failed to remove %s.table: %w", localIndex, err)
	}
	ix := newIndex()
	ix.spill = s.log.table
	bad, err := s.indexPacks(ix, packs)
	st.Damaged = bad
	if err != nil {
		var ie *IndexError
		if errors.As(err, &ie) {
			ie.Problem = "is being rebuilt"
		}
		return st, err
	}
	if err := s.log.write(func(fn func(PackInfo) error) error {
		return ix.eachPack(func(p PackInfo) error {
			st.Packs++
			st.Blobs += len(p.Blobs)
			return fn(p)
		})
	}); err != nil {
		return st, fmt.Errorf("failed to write %s: %w", localIndex, err)
	}
	s.index.close()
	s.index, s.indexErr = ix, nil
	s.indexOnce.Do(func() {})
	return st, nil
}
