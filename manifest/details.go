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
	if v2 && (d.index != nil || d.Files != nil) {
		if err := writeFilesV2(bw, d.eachFile); err != nil {
			return err
		}
	} else if d.index != nil {
		if err := d.index.writeJSON(bw); err != nil {
			return err
		}
	} else if d.Files == nil {
		bw.WriteString("null")
	} else {
		bw.WriteByte('[')
		for i := range d.Files {
			if i > 0 {
				bw.WriteByte(',')
			}
			b, err := json.Marshal(&d.Files[i])
			if err != nil {
				return fmt.Errorf("file index entry %q: %w", d.Files[i].Path, err)
			}
			bw.Write(b)
		}
		bw.WriteByte(']')
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
