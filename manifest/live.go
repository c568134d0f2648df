package manifest

import (
	"bytes"
	"iter"
	"slices"

	"github.com/pocketsnap/pocketsnap/chunkstore"
)

// Live is the set of blobs that a list of snapshots references: what
// garbage collection must keep ([chunkstore.BlobSet]). The blob list of a
// single snapshot (the end of a first backup) serves as it is, holding
// nothing more per blob; several are merged into one sorted list, 32
// bytes a blob however many snapshots share it, less than a map's 41 or
// more (Issue 20: peak RSS), and asked by one binary search, however
// many snapshots are kept.
type Live struct {
	lists [][]chunkstore.ID
}

// Referenced returns the set of blobs that the snapshots of list
// reference. The manifests' blob lists must not change while it is in
// use; a list that is not sorted (a manifest built in memory, not loaded)
// is sorted in a copy, so that no live blob is ever missed.
func Referenced(list []*Manifest) *Live {
	l := lists(list)
	if len(l.lists) > 1 {
		n := 0
		for range l.All() {
			n++
		}
		union := make([]chunkstore.ID, 0, n)
		for id := range l.All() {
			union = append(union, id)
		}
		l.lists = [][]chunkstore.ID{union}
	}
	return l
}

// lists returns the blob lists of list, sorted, as they are.
func lists(list []*Manifest) *Live {
	l := &Live{}
	for _, m := range list {
		ids := m.Blobs
		if len(ids) == 0 {
			continue
		}
		if !slices.IsSortedFunc(ids, compareID) {
			ids = slices.Clone(ids)
			slices.SortFunc(ids, compareID)
		}
		l.lists = append(l.lists, ids)
	}
	return l
}

func compareID(a, b chunkstore.ID) int { return bytes.Compare(a[:], b[:]) }

// Has says whether a snapshot references id.
func (l *Live) Has(id chunkstore.ID) bool {
	for _, ids := range l.lists {
		if _, ok := slices.BinarySearchFunc(ids, id, compareID); ok {
			return true
		}
	}
	return false
}

// All yields each referenced blob once, in ascending order: a merge of
// the sorted lists that holds nothing per blob.
func (l *Live) All() iter.Seq[chunkstore.ID] {
	return func(yield func(chunkstore.ID) bool) {
		pos := make([]int, len(l.lists))
		for {
			least := -1
			for i, ids := range l.lists {
				if pos[i] < len(ids) && (least < 0 || compareID(ids[pos[i]], l.lists[least][pos[least]]) < 0) {
					least = i
				}
			}
			if least < 0 {
				return
			}
			id := l.lists[least][pos[least]]
			for i, ids := range l.lists {
				for pos[i] < len(ids) && ids[pos[i]] == id {
					pos[i]++
				}
			}
			if !yield(id) {
				return
			}
		}
	}
}
