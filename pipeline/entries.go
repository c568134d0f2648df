package pipeline

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/manifest"
)

// Entry selects one entry of a snapshot for [NewEntryReader].
type Entry struct {
	// File is the entry's position in the manifest's file index.
	File int
	// Name, when set, replaces the entry's path in the header the reader
	// yields, and Link its hardlink target. A partial restore uses them
	// for a hardlink whose first path it does not restore: it reads that
	// path's entry under the link's name, and points the other links at it.
	Name, Link string
}

// NewEntryReader is NewStreamReader for some entries of m only, in the
// order given: it yields their headers and bodies, a tar stream without
// the end-of-archive marker (archive/tar reads it to io.EOF), and fetches
// no other blob. Each blob is verified as NewStreamReader does, and each
// entry against the file index: its header must name the entry's path and
// its pieces must fill the stream up to the next entry. The whole
// stream's length and SHA-256 cannot be checked without reading all of it.
func NewEntryReader(ctx context.Context, s BlobReader, m *manifest.Manifest, entries []Entry) (*StreamReader, error) {
	d := m.Details()
	found, err := findEntries(m, entries)
	if err != nil {
		return nil, err
	}
	c := &entryCheck{spans: make([]span, len(entries))}
	var ids []chunkstore.ID
	for i, e := range entries {
		f := found[e.File]
		c.spans[i] = span{Entry: e, root: d.Root, path: f.Path, pieces: f.Pieces, size: f.end - f.Offset}
		for p := f.Piece; p < f.Piece+f.Pieces; p++ {
			ids = append(ids, m.StreamID(p))
		}
	}
	return newReader(ctx, s, m.Name, len(ids), func(i int) chunkstore.ID { return ids[i] }, false, c), nil
}

// foundEntry is an entry of the file index and where the next one starts
// in the stream (the end-of-archive marker after the last).
type foundEntry struct {
	manifest.File
	end int64
}

// errFound stops findEntries' walk once it has every entry it wants.
var errFound = errors.New("found")

// findEntries walks m's file index once for the entries given, holding
// only those.
func findEntries(m *manifest.Manifest, entries []Entry) (map[int]*foundEntry, error) {
	found := make(map[int]*foundEntry, len(entries))
	last := -1
	for _, e := range entries {
		if e.File < 0 || e.File >= m.FileCount() {
			return nil, fmt.Errorf("snapshot %s: no entry %d in its file index of %d", m.Name, e.File, m.FileCount())
		}
		found[e.File] = nil
		last = max(last, e.File)
	}
	err := m.EachFile(func(i int, f *manifest.File) error {
		if prev := found[i-1]; prev != nil {
			prev.end = f.Offset
		}
		if i > last {
			return errFound
		}
		if _, ok := found[i]; ok {
			found[i] = &foundEntry{File: *f, end: m.StreamSize - int64(len(trailer))}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		return nil, fmt.Errorf("snapshot %s: %w", m.Name, err)
	}
	return found, nil
}

// span is an entry being read: its path in the file index, its number of
// pieces and its length in the stream.
type span struct {
	Entry
	root   string // the stream's root (manifest.Details.Root)
	path   string
	pieces int
	size   int64
}

// entryCheck checks the entries of an entry reader one piece at a time.
type entryCheck struct {
	spans []span
	i     int   // the entry being read
	piece int   // pieces of it read so far
	got   int64 // bytes of it read so far
}

func (c *entryCheck) blob(plain []byte) ([]byte, error) {
	s := &c.spans[c.i]
	out := plain
	if c.piece == 0 {
		var err error
		if out, err = s.header(plain); err != nil {
			return nil, err
		}
	}
	c.piece++
	c.got += int64(len(plain))
	if c.piece == s.pieces {
		if c.got != s.size {
			return nil, fmt.Errorf("%w: entry %q is %d bytes, the file index says %d", ErrVerify, s.path, c.got, s.size)
		}
		c.i, c.piece, c.got = c.i+1, 0, 0
	}
	return out, nil
}

func (c *entryCheck) end(int64) error { return nil }

// header checks that the header piece b is the entry's, and returns it
// with the entry's Name and Link applied.
func (s *span) header(b []byte) ([]byte, error) {
	h, err := tar.NewReader(bytes.NewReader(b)).Next()
	if err != nil {
		return nil, fmt.Errorf("%w: header of entry %q: %v", ErrVerify, s.path, err)
	}
	if got := indexEntry(h, s.root).Path; got != s.path {
		return nil, fmt.Errorf("%w: header of entry %q names %q", ErrVerify, s.path, got)
	}
	if s.Name == "" && s.Link == "" {
		return b, nil
	}
	name, link := s.Name, s.Link
	if name != "" {
		name = memberName(s.root, name)
	}
	if link != "" {
		link = memberName(s.root, link)
	}
	return renderHeader(rename(h, name, link))
}

// rename returns h with the given name and hardlink target ("" keeps
// them), as Backup writes headers: the PAX records that only repeat
// header fields (among them the old path) are dropped, extended
// attributes are kept.
func rename(h *tar.Header, name, link string) *tar.Header {
	r := &tar.Header{
		Typeflag: h.Typeflag, Name: h.Name, Linkname: h.Linkname, Size: h.Size,
		Mode: h.Mode, Uid: h.Uid, Gid: h.Gid, ModTime: h.ModTime,
		Devmajor: h.Devmajor, Devminor: h.Devminor, Format: tar.FormatPAX,
	}
	for k, v := range h.PAXRecords {
		if strings.HasPrefix(k, xattrPrefix) {
			if r.PAXRecords == nil {
				r.PAXRecords = map[string]string{}
			}
			r.PAXRecords[k] = v
		}
	}
	if name != "" {
		r.Name = name
		if h.Typeflag == tar.TypeDir {
			r.Name += "/"
		}
	}
	if link != "" {
		r.Linkname = link
	}
	return r
}
