package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// writeDetails writes json.Marshal(d) to w, byte for byte, one stream
// index and one file at a time, so that the JSON of a large file index is
// never held whole. A FileIndex set on d is written as its entries would
// be in d.Files. For a version 2 manifest (v2), the file index is written
// in its version 2 form (see fileV2).
func writeDetails(w io.Writer, d *Details, v2 bool) error {
	bw := bufio.NewWriter(w)
	mid, err := detailsMiddle(d)
	if err != nil {
		return err
	}
	bw.WriteString(`{"stream":`)
	if d.Stream == nil {
		bw.WriteString("null")
	} else {
		var num []byte
		bw.WriteByte('[')
		for i, n := range d.Stream {
			if i > 0 {
				bw.WriteByte(',')
			}
			num = strconv.AppendUint(num[:0], uint64(n), 10)
			bw.Write(num)
		}
		bw.WriteByte(']')
	}
	bw.WriteByte(',')
	bw.Write(mid)
	bw.WriteString(`,"files":`)
	switch {
	case d.index == nil && d.sealedIn == nil && d.Files == nil:
		_, err = bw.WriteString("null")
	case v2:
		var dl deltas
		err = writeFiles(bw, d.eachFile, func(f *File) any { return dl.encode(f) })
	case d.index != nil:
		err = d.index.writeJSON(bw)
	default:
		err = writeFiles(bw, d.eachFile, func(f *File) any { return f })
	}
	if err != nil {
		return err
	}
	bw.WriteByte('}')
	return bw.Flush()
}

// detailsMiddle returns the JSON of d's fields between "stream" and
// "files", without the commas around them.
func detailsMiddle(d *Details) ([]byte, error) {
	rest := *d
	rest.Stream, rest.Files = nil, nil
	b, err := json.Marshal(&rest)
	if err != nil {
		return nil, err
	}
	mid, ok := bytes.CutPrefix(b, []byte(`{"stream":null,`))
	if mid, ok2 := bytes.CutSuffix(mid, []byte(`,"files":null}`)); ok && ok2 {
		return mid, nil
	}
	return nil, fmt.Errorf("unexpected manifest details JSON %.80s", b)
}

// writeFiles writes the entries that each gives as a JSON array, each in
// the form that form returns for it.
func writeFiles(w *bufio.Writer, each func(func(*File) error) error, form func(*File) any) error {
	w.WriteByte('[')
	first := true
	err := each(func(f *File) error {
		if !first {
			w.WriteByte(',')
		}
		first = false
		b, err := json.Marshal(form(f))
		if err != nil {
			return fmt.Errorf("file index entry %q: %w", f.Path, err)
		}
		_, err = w.Write(b)
		return err
	})
	if err != nil {
		return err
	}
	return w.WriteByte(']')
}
