package manifest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// fileV2 is a file index entry as a version 2 manifest stores it: the
// position of the entry in the stream, which grows entry by entry, is
// stored as its difference to the previous entry's, so that it
// compresses (a third of the index, measured on a rootfs).
type fileV2 struct {
	File
	// Offset and Piece hide File's, which version 2 does not store: they
	// are always zero here, and left out.
	Offset int64 `json:"offset,omitempty"`
	Piece  int   `json:"piece,omitempty"`
	// OffsetDelta is File.Offset less the previous entry's (0 before the
	// first).
	OffsetDelta int64 `json:"offset_delta"`
	// PieceDelta is File.Piece less the previous entry's Piece + Pieces
	// (0 before the first): 0, and left out, when the entries' pieces
	// follow each other.
	PieceDelta int `json:"piece_delta,omitempty"`
}

// deltas turns file index entries into their version 2 form and back,
// entry by entry, in order.
type deltas struct {
	offset int64
	piece  int
}

func (dl *deltas) encode(f *File) fileV2 {
	v := fileV2{File: *f, OffsetDelta: f.Offset - dl.offset, PieceDelta: f.Piece - dl.piece}
	dl.offset, dl.piece = f.Offset, f.Piece+f.Pieces
	return v
}

func (dl *deltas) decode(v *fileV2) File {
	f := v.File
	f.Offset, f.Piece = dl.offset+v.OffsetDelta, dl.piece+v.PieceDelta
	dl.offset, dl.piece = f.Offset, f.Piece+f.Pieces
	return f
}

// eachFile calls fn with each entry of d's file index, in order: of
// the FileIndex set, else of Files, else of the sealed details Open read.
func (d *Details) eachFile(fn func(*File) error) error {
	if d.index != nil {
		return d.index.each(fn)
	}
	if d.Files == nil && d.sealedIn != nil {
		return d.sealedIn.eachSealed(fn)
	}
	for i := range d.Files {
		if err := fn(&d.Files[i]); err != nil {
			return err
		}
	}
	return nil
}

// each calls fn with each entry of the index, in order, decoding them
// one at a time. No entry can be added after.
func (x *FileIndex) each(fn func(*File) error) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(x.writeJSON(pw)) }()
	defer pr.Close()
	dec := json.NewDecoder(bufio.NewReader(pr))
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("failed to read the file index back: %w", err)
	}
	for dec.More() {
		var f File
		if err := dec.Decode(&f); err != nil {
			return fmt.Errorf("failed to read the file index back: %w", err)
		}
		if err := fn(&f); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("failed to read the file index back: %w", err)
	}
	return nil
}
