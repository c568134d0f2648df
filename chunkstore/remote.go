package chunkstore

import (
	"errors"
	"sync"
)

// ErrRemoteOnly is the cause of a [BlobError] for a blob that this device
// has only in its bucket: a repository adopted from a bucket deduplicates
// against the packs there without downloading them.
var ErrRemoteOnly = errors.New("stored only in the bucket (read it with --from=remote)")

// remoteState is what the device knows of its bucket, kept in two logs
// of the device index's format under local/:
//
//   - remote-index: every pack pushed to or adopted from the bucket, with
//     its blob table, so that retention in the bucket can tell which packs
//     no snapshot needs without the identity, even after the device has
//     deleted its own copy;
//   - adopted-index: the packs of a repository taken over from a bucket,
//     which exist only there; backups deduplicate against them.
type remoteState struct {
	log, adopted *indexLog

	once       sync.Once
	index, own *Index
	err        error
}

func (s *Store) loadRemote() (*Index, *Index, error) {
	r := &s.bucket
	if r.log == nil {
		return nil, nil, ErrReadOnly
	}
	r.once.Do(func() {
		keep := func(ID) bool { return true }
		if r.index, _, r.err = r.log.load(keep); r.err == nil {
			r.own, _, r.err = r.adopted.load(keep)
		}
	})
	return r.index, r.own, r.err
}

// RemoteIndex returns the packs the device knows to be in its bucket:
// those it pushed ([Store.RecordRemote]) or adopted ([Store.Adopt]).
func (s *Store) RemoteIndex() (*Index, error) {
	ix, _, err := s.loadRemote()
	return ix, err
}

// Adopted returns the packs of an adopted repository that exist only in
// the bucket.
func (s *Store) Adopted() (*Index, error) {
	_, own, err := s.loadRemote()
	return own, err
}

// RecordRemote notes packs as stored in the bucket, durably.
func (s *Store) RecordRemote(packs ...PackInfo) error {
	ix, _, err := s.loadRemote()
	if err != nil {
		return err
	}
	return appendAll(s.bucket.log, ix, packs)
}

// appendAll appends packs to a log and its index, after cutting what a
// crash or damage left in the log.
func appendAll(l *indexLog, ix *Index, packs []PackInfo) error {
	if err := l.save(ix); err != nil {
		return err
	}
	for _, p := range packs {
		if err := l.append(p); err != nil {
			return err
		}
		ix.add(p)
	}
	return nil
}

// Adopt records packs that exist only in the bucket, for a repository
// taken over from it: later backups deduplicate against them.
func (s *Store) Adopt(packs []PackInfo) error {
	_, own, err := s.loadRemote()
	if err != nil {
		return err
	}
	if err := s.RecordRemote(packs...); err != nil {
		return err
	}
	return appendAll(s.bucket.adopted, own, packs)
}

// ForgetRemote drops packs from what the device knows of its bucket,
// after they were deleted there.
func (s *Store) ForgetRemote(ids []ID) error {
	if _, _, err := s.loadRemote(); err != nil {
		return err
	}
	drop := make(map[ID]bool, len(ids))
	for _, id := range ids {
		drop[id] = true
	}
	r := &s.bucket
	for _, l := range []struct {
		log *indexLog
		ix  **Index
	}{{r.log, &r.index}, {r.adopted, &r.own}} {
		kept := without((*l.ix).Packs(), drop)
		if err := l.log.rewrite(kept); err != nil {
			return err
		}
		*l.ix = indexOf(kept)
	}
	return nil
}

// without returns the packs whose IDs are not in drop.
func without(packs []PackInfo, drop map[ID]bool) []PackInfo {
	kept := make([]PackInfo, 0, len(packs))
	for _, p := range packs {
		if !drop[p.ID] {
			kept = append(kept, p)
		}
	}
	return kept
}

// indexOf builds an index of packs.
func indexOf(packs []PackInfo) *Index {
	ix := newIndex()
	for _, p := range packs {
		ix.add(p)
	}
	return ix
}
