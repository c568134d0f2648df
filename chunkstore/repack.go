package chunkstore

import (
	"context"
	"errors"
	"fmt"
)

// RepackStats says what a repack did.
type RepackStats struct {
	// Packs and Size count the packs rewritten and their stored bytes.
	Packs int
	Size  int64
	// Written is what the new packs hold.
	Written WriteStats
}

// Repack rewrites packs: it copies their live blobs (those in live that no
// other pack holds) into new packs, as the verified frames they are
// (nothing is recompressed), grouped by class, and then drops the old
// packs ([Store.DropPacks]). It needs the identity. The new packs are
// durable and indexed before the old ones are dropped, so a crash leaves
// every blob stored at least once; the old copies then count as dead
// ([Store.Usage]) and the next garbage collection deletes them. The caller
// holds the exclusive lock.
func (s *Store) Repack(ctx context.Context, packs []ID, live BlobSet, class func(ID) Class) (RepackStats, error) {
	var st RepackStats
	ix, err := s.Index()
	if err != nil {
		return st, err
	}
	rewrite := make(map[ID]bool, len(packs))
	for _, id := range packs {
		rewrite[id] = true
	}
	kept := map[ID]bool{}
	var copies []BlobEntry
	for _, p := range ix.Packs() {
		for _, b := range p.Blobs {
			if !live.Has(b.ID) {
				continue
			}
			if rewrite[p.ID] {
				copies = append(copies, b)
			} else {
				kept[b.ID] = true
			}
		}
		if rewrite[p.ID] {
			st.Packs++
			st.Size += p.Size
		}
	}
	if _, err := s.Index(); err != nil {
		return st, err
	}
	// The blobs are in the index already, in the packs being replaced:
	// deduplicate only among the copies.
	w := s.newWriter(newIndex())
	err = s.copyBlobs(ctx, w, copies, kept, class)
	if err = errors.Join(err, w.Flush(ctx)); err != nil {
		return st, fmt.Errorf("repack of %d packs failed: %w", st.Packs, err)
	}
	st.Written = w.Stats()
	return st, s.DropPacks(packs)
}

func (s *Store) copyBlobs(ctx context.Context, w *Writer, copies []BlobEntry, kept map[ID]bool, class func(ID) Class) error {
	for _, b := range copies {
		if kept[b.ID] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		frame, _, err := s.ReadFrame(b.ID, nil, nil)
		if err != nil {
			return err
		}
		if _, err := w.Add(ctx, class(b.ID), b.ID, frame, int(b.RawLength)); err != nil {
			return err
		}
	}
	return nil
}
