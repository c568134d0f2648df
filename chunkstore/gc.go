package chunkstore

import (
	"fmt"
	"iter"
	"os"
	"path/filepath"

	"github.com/pocketsnap/pocketsnap/internal/fsync"
)

// PackUsage says how much of an indexed pack the kept snapshots use.
type PackUsage struct {
	ID ID
	// Size is the pack's stored size.
	Size int64
	// Blobs and Bytes count the pack's blobs and their stored frames;
	// LiveBlobs and LiveBytes those that a kept snapshot references.
	Blobs, LiveBlobs int
	Bytes, LiveBytes int64
}

// DeadBytes is the size of the frames that no kept snapshot references.
func (p PackUsage) DeadBytes() int64 { return p.Bytes - p.LiveBytes }

// DeadShare is the unreferenced fraction of the pack's frames, 0 to 1.
func (p PackUsage) DeadShare() float64 {
	if p.Bytes == 0 {
		return 1
	}
	return float64(p.DeadBytes()) / float64(p.Bytes)
}

// Usage is what garbage collection knows about the repository's packs.
type Usage struct {
	// Packs are the indexed packs, in index order.
	Packs []PackUsage
	// Orphans are pack files that no index record names: written by a
	// backup killed before it indexed them, or left by a garbage
	// collection killed after it rewrote the index. No snapshot can
	// reference their blobs, because a backup deduplicates against the
	// index only.
	Orphans []ObjectInfo
	// Unindexed counts the live blobs the index does not hold (a damaged
	// index, which check reports). While there are any, orphans may hold
	// them and are not garbage.
	Unindexed int
}

// BlobSet is a set of blobs: the blobs that the kept snapshots
// reference, which garbage collection keeps. It need not be held in
// memory blob by blob (Issue 20: peak RSS): the manifests' own sorted
// blob lists can answer.
type BlobSet interface {
	// Has says whether the set holds id.
	Has(id ID) bool
	// All yields each blob of the set once.
	All() iter.Seq[ID]
}

// localBlobs is live without the blobs that only the bucket holds.
type localBlobs struct {
	live    BlobSet
	adopted *Index
	ix      *Index
}

func (l localBlobs) Has(id ID) bool {
	return l.live.Has(id) && (!l.adopted.Has(id) || l.ix.Has(id))
}

func (l localBlobs) All() iter.Seq[ID] {
	return func(yield func(ID) bool) {
		for id := range l.live.All() {
			if (!l.adopted.Has(id) || l.ix.Has(id)) && !yield(id) {
				return
			}
		}
	}
}

// Usage measures the packs against live, the blobs that the kept
// snapshots reference. A live blob stored in several packs counts in the
// last one indexed only: after a repack that was killed before it dropped
// the old packs, the old copies count as dead. The caller holds the
// exclusive lock.
func (s *Store) Usage(live BlobSet) (*Usage, error) {
	ix, err := s.writableIndex()
	if err != nil {
		return nil, err
	}
	files, err := s.ListPacks()
	if err != nil {
		return nil, err
	}
	if _, adopted, err := s.loadRemote(); err == nil && !adopted.empty() {
		// Blobs that only the bucket holds are accounted for: they do not
		// make orphans worth keeping.
		live = localBlobs{live: live, adopted: adopted, ix: ix}
	}
	return measureUsage(ix, files, live)
}

// measureUsage measures the packs of ix, in index order, against live,
// the blobs that the kept snapshots reference; files are the pack files
// stored, those that no pack of ix names are orphans. A live blob stored
// in several packs counts in the last one only. It reads the packs one at
// a time, and holds in memory only the live blobs stored more than once,
// which are rare: only when the live blobs in packs outnumber the live
// blobs in the index does it look for them.
func measureUsage(ix *Index, files []ObjectInfo, live BlobSet) (*Usage, error) {
	entries, distinct := 0, 0
	err := ix.eachPack(func(p PackInfo) error {
		for _, b := range p.Blobs {
			if live.Has(b.ID) {
				entries++
			}
		}
		return nil
	})
	if err == nil {
		err = ix.eachBlob(func(id ID) {
			if live.Has(id) {
				distinct++
			}
		})
	}
	if err != nil {
		return nil, err
	}
	n := 0
	for range live.All() {
		n++
	}
	u := &Usage{Unindexed: n - distinct}
	// last says, of each live blob stored in several packs, the last.
	last := map[ID]int{}
	i := 0
	if entries > distinct {
		err = ix.eachPack(func(p PackInfo) error {
			for _, b := range p.Blobs {
				if !live.Has(b.ID) {
					continue
				}
				if first, ok := ix.Lookup(b.ID); ok && first.Pack != p.ID {
					last[b.ID] = i
				}
			}
			i++
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	indexed := map[ID]bool{}
	i = 0
	err = ix.eachPack(func(p PackInfo) error {
		indexed[p.ID] = true
		pu := PackUsage{ID: p.ID, Size: p.Size, Blobs: len(p.Blobs)}
		for _, b := range p.Blobs {
			pu.Bytes += int64(b.Length)
			if !live.Has(b.ID) {
				continue
			}
			if o, ok := last[b.ID]; !ok || o == i {
				pu.LiveBlobs++
				pu.LiveBytes += int64(b.Length)
			}
		}
		u.Packs = append(u.Packs, pu)
		i++
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if !indexed[f.ID] {
			u.Orphans = append(u.Orphans, f)
		}
	}
	return u, nil
}

// Garbage returns the packs that garbage collection deletes: the indexed
// packs without a live blob and, unless a live blob is missing from the
// index, the orphans.
func (u *Usage) Garbage() []ObjectInfo {
	var out []ObjectInfo
	for _, p := range u.Packs {
		if p.LiveBlobs == 0 {
			out = append(out, ObjectInfo{ID: p.ID, Size: p.Size})
		}
	}
	if u.Unindexed == 0 {
		out = append(out, u.Orphans...)
	}
	return out
}

// PartlyDead returns the packs that hold live blobs and whose dead share
// exceeds threshold (0 to 1): the packs a repack rewrites.
func (u *Usage) PartlyDead(threshold float64) []PackUsage {
	var out []PackUsage
	for _, p := range u.Packs {
		if p.LiveBlobs > 0 && p.DeadShare() > threshold {
			out = append(out, p)
		}
	}
	return out
}

// DropPacks deletes packs: first their records, by rewriting the device
// index atomically without them, then their files. The index therefore
// never names a missing pack; a crash in between leaves only orphans,
// which the next garbage collection deletes. The caller holds the
// exclusive lock and has no [Writer] open, and has made sure that no kept
// snapshot needs a blob that only these packs hold.
func (s *Store) DropPacks(ids []ID) error {
	if s.ReadOnly() {
		return ErrReadOnly
	}
	ix, err := s.writableIndex()
	if err != nil {
		return err
	}
	drop := make(map[ID]bool, len(ids))
	for _, id := range ids {
		drop[id] = true
	}
	packs := ix.Packs()
	if keep := without(packs, drop); len(keep) < len(packs) {
		// A table that names a dropped pack is rebuilt from the log.
		if ix.tableHolds(ids) {
			if err := os.Remove(s.log.table); err != nil && !os.IsNotExist(err) {
				return fmt.Errorf("failed to remove %s.table: %w", localIndex, err)
			}
		}
		if err := s.log.rewrite(keep); err != nil {
			return fmt.Errorf("failed to rewrite the index without %d packs: %w", len(packs)-len(keep), err)
		}
		s.index = indexOf(keep)
		ix.close()
	}
	dirs := map[string]bool{}
	for _, id := range ids {
		p := s.packPath(id)
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("failed to delete pack %s: %w", id, err)
		}
		dirs[filepath.Dir(p)] = true
	}
	for d := range dirs {
		if err := fsync.Dir(d); err != nil {
			return err
		}
	}
	return nil
}

// RemoveFile deletes a repository-relative file, if it exists, and syncs
// its directory, so that the deletion is durable before anything that
// relies on it: a snapshot's manifest goes before the packs only it
// referenced.
func (s *Store) RemoveFile(name string) error {
	if s.ReadOnly() {
		return ErrReadOnly
	}
	p := s.Path(name)
	if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
		return err
	}
	return fsync.Dir(filepath.Dir(p))
}
