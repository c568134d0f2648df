package manifest

import (
	"fmt"
	"slices"
)

// Change is one path that differs between two snapshots.
type Change struct {
	Path string `json:"path"`
	Type string `json:"type"`
	// SizeBefore is the size in the older snapshot, SizeAfter in the newer
	// (0 where absent).
	SizeBefore int64 `json:"size_before"`
	SizeAfter  int64 `json:"size_after"`
	SizeDelta  int64 `json:"size_delta"`
	// Changes says what changed: content, type, link, mode, owner, mtime.
	Changes []string `json:"changes,omitempty"`
}

// Diff is what differs from snapshot A to snapshot B, by path.
type Diff struct {
	A       string   `json:"a"`
	B       string   `json:"b"`
	Added   []Change `json:"added"`
	Removed []Change `json:"removed"`
	// Changed are the entries whose content, type or link target changed.
	Changed []Change `json:"changed"`
	// Metadata are the entries whose content is the same but mode, owner
	// or mtime changed; MetadataCount counts them.
	Metadata      []Change `json:"metadata_changed,omitempty"`
	MetadataCount int      `json:"metadata_changed_count"`
	// SizeDelta is the change of the total size of B's files over A's.
	SizeDelta int64 `json:"size_delta"`
	// AddedBytes is what B's backup added to the repository (its new
	// packs), whatever A holds.
	AddedBytes int64 `json:"added_bytes"`
}

// Compare lists what differs from a to b: two snapshots of one
// repository whose details are open ([Manifest.Open]). Contents are
// compared by blob IDs, which are equal exactly when the bytes are:
// both snapshots are under one key. It holds both file indexes.
func Compare(a, b *Manifest) (*Diff, error) {
	ia, err := indexOf(a)
	if err != nil {
		return nil, err
	}
	ib, err := indexOf(b)
	if err != nil {
		return nil, err
	}
	d := &Diff{A: a.Name, B: b.Name, Added: []Change{}, Removed: []Change{}, Changed: []Change{}, Metadata: []Change{}, AddedBytes: b.AddedBytes}
	for _, p := range sortedPaths(ia, ib) {
		fa, fb := ia.files[p], ib.files[p]
		switch {
		case fa == nil:
			d.Added = append(d.Added, Change{Path: p, Type: fb.Type, SizeAfter: fb.Size, SizeDelta: fb.Size})
			d.SizeDelta += fb.Size
		case fb == nil:
			d.Removed = append(d.Removed, Change{Path: p, Type: fa.Type, SizeBefore: fa.Size, SizeDelta: -fa.Size})
			d.SizeDelta -= fa.Size
		default:
			changes := changesOf(ia, ib, fa, fb)
			if len(changes) == 0 {
				continue
			}
			c := Change{Path: p, Type: fb.Type, SizeBefore: fa.Size, SizeAfter: fb.Size, SizeDelta: fb.Size - fa.Size, Changes: changes}
			d.SizeDelta += c.SizeDelta
			if slices.ContainsFunc(changes, func(c string) bool { return c == "content" || c == "type" || c == "link" }) {
				d.Changed = append(d.Changed, c)
			} else {
				d.Metadata = append(d.Metadata, c)
				d.MetadataCount++
			}
		}
	}
	return d, nil
}

// fileIndex is a snapshot's files by path, with its manifest, whose
// stream's blob IDs contents are compared by.
type fileIndex struct {
	files map[string]*File
	m     *Manifest
}

func indexOf(m *Manifest) (*fileIndex, error) {
	files, err := m.Files()
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", m.Name, err)
	}
	x := &fileIndex{files: make(map[string]*File, len(files)), m: m}
	for i := range files {
		x.files[files[i].Path] = &files[i]
	}
	return x, nil
}

// sameBody reports whether entries fa of a and fb of b have the same body
// blobs.
func sameBody(a, b *fileIndex, fa, fb *File) bool {
	if fa.Pieces != fb.Pieces {
		return false
	}
	for i := 1; i < fa.Pieces; i++ {
		if a.m.StreamID(fa.Piece+i) != b.m.StreamID(fb.Piece+i) {
			return false
		}
	}
	return true
}

func sortedPaths(a, b *fileIndex) []string {
	paths := make([]string, 0, len(b.files))
	for p := range a.files {
		paths = append(paths, p)
	}
	for p := range b.files {
		if a.files[p] == nil {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	return paths
}

func changesOf(a, b *fileIndex, fa, fb *File) []string {
	var c []string
	add := func(differ bool, what string) {
		if differ {
			c = append(c, what)
		}
	}
	add(fa.Type != fb.Type, "type")
	add(fa.Type == fb.Type && (fa.Size != fb.Size || !sameBody(a, b, fa, fb)), "content")
	add(fa.Link != fb.Link, "link")
	add(fa.Mode != fb.Mode, "mode")
	add(fa.UID != fb.UID || fa.GID != fb.GID, "owner")
	add(fa.MTime != fb.MTime, "mtime")
	return c
}
