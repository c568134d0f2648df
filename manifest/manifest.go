package manifest

import (
	"iter"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
)

// Manifest versions. [Save] writes Version into a repository of format
// version 1 and Version2 into one of format version 2; readers read both
// in a repository of format version 2.
const (
	Version  = 1
	Version2 = 2
)

// Manifest is a snapshot's manifest. The fields up to Blobs form the public
// part; Details is the private part, sealed when stored.
type Manifest struct {
	Version int
	// Name is "<kind>-<UTC stamp>", also the object's name.
	Name string
	Kind string
	// Time is when the snapshot was started (UTC, whole seconds).
	Time time.Time
	// Incomplete is set when some source entries could not be read in
	// full; such a snapshot is never chosen implicitly.
	Incomplete bool
	// StreamSize is the length of the tar stream in bytes.
	StreamSize int64
	// AddedBytes is the stored size of the packs this snapshot wrote.
	AddedBytes int64
	// Blobs is the sorted set of blob IDs the snapshot references. A
	// version 2 manifest names them by [Prefix]: [Load] resolves each
	// through the device's indexes, and one that no index holds stands
	// for itself as its prefix followed by zeros, an ID that is never
	// found, so that every reader reports the blob missing.
	Blobs []chunkstore.ID
	// Base, in a version 2 manifest, is the ID of the set object its blob
	// set is stored against (see [SetName]); the zero ID in version 1.
	Base chunkstore.ID
	// DowntimeMS is how long the source's service was stopped for the
	// snapshot, in milliseconds; 0 when it was not stopped.
	DowntimeMS int64

	// sealed is the private part as stored; Details once opened.
	sealed  []byte
	details *Details
	// added and removed are a version 2 manifest's blob set as a delta
	// against Base; resolved says Blobs was filled from them, and
	// unresolved lists the indices in Blobs of prefixes no index held.
	added, removed []Prefix
	resolved       bool
	unresolved     []int
	// codec opened the details, and files counts their file index.
	codec *chunkstore.Codec
	files int
}

// Details is the private part of a manifest.
type Details struct {
	// Stream lists the snapshot's blobs in stream order, as indices into
	// Manifest.Blobs.
	Stream []uint32 `json:"stream"`
	// StreamSHA256 is the hex SHA-256 of the whole tar stream. It is empty
	// in a version 2 repository, and in version 1 when the files cache
	// supplied some bodies without reading them: the keyed blob IDs
	// authenticate the stream (doc/format.md, What authenticates what).
	StreamSHA256 string `json:"stream_sha256,omitempty"`
	Source       string `json:"source"`
	// Root, when set, is the directory every member of the stream lies
	// under ("db" for db snapshots): a restore extracts its contents.
	// Empty, members are rooted at "./". File index paths are relative
	// to it either way.
	Root     string    `json:"root,omitempty"`
	Host     string    `json:"host"`
	Tool     string    `json:"tool"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Counts   Counts    `json:"counts"`
	Warnings []string  `json:"warnings,omitempty"`
	// Files is the file index of details being written. [Manifest.Open]
	// leaves it nil: read the index with [Manifest.EachFile].
	Files []File `json:"files"`

	// index, when set, is written in place of Files.
	index *FileIndex
	// sealedIn, set by Open, is the manifest whose sealed details hold
	// the file index, which Open does not keep: Files stays nil.
	sealedIn *Manifest
	// dropped says DropFileIndex let go of the sealed details.
	dropped bool
}

// SetFileIndex makes x the file index that [Write] writes for these
// details, in place of Files, which stays as it is.
func (d *Details) SetFileIndex(x *FileIndex) { d.index = x }

// Counts summarise a backup.
type Counts struct {
	Entries int `json:"entries"`
	// Files counts regular files: FilesCached of them came unchanged from
	// the files cache and FilesEmpty were empty (snapshots written before
	// FilesEmpty counted only the files with content).
	Files       int   `json:"files"`
	FilesCached int   `json:"files_cached"`
	FilesEmpty  int   `json:"files_empty,omitempty"`
	BytesRead   int64 `json:"bytes_read"`
	// Changed counts the entries left out because another object took
	// their place between the walk's look at them and their reading.
	Changed  int `json:"changed,omitempty"`
	NewBlobs int `json:"new_blobs"`
	NewPacks int `json:"new_packs"`
}

// File is one entry of the file index.
type File struct {
	Path string `json:"path"`
	// Type is one of file, dir, symlink, hardlink, fifo, char, block.
	Type string `json:"type"`
	// Mode holds the permission bits and setuid/setgid/sticky (07777).
	Mode  uint32 `json:"mode"`
	Size  int64  `json:"size,omitempty"`
	MTime int64  `json:"mtime_ns"`
	UID   int    `json:"uid"`
	GID   int    `json:"gid"`
	// Link is the target of a symlink or hardlink.
	Link string `json:"link,omitempty"`
	// Offset is the position of the entry's header in the stream.
	Offset int64 `json:"offset"`
	// Piece is the index in Stream of the entry's header blob, and Pieces
	// the number of blobs (header and body) that make up the entry.
	Piece  int `json:"piece"`
	Pieces int `json:"pieces"`
}

// Details returns the private part once opened by Open or set by
// SetDetails.
func (m *Manifest) Details() *Details { return m.details }

// SetDetails sets the private part of a manifest being written.
func (m *Manifest) SetDetails(d *Details) { m.details = d }

// StreamLen returns the number of blobs in the stream (the details must
// be open).
func (m *Manifest) StreamLen() int { return len(m.details.Stream) }

// StreamID returns the ID of the stream's blob i (the details must be
// open).
func (m *Manifest) StreamID(i int) chunkstore.ID { return m.Blobs[m.details.Stream[i]] }

// StreamIDs yields the position and ID of each blob of the stream, in
// order (the details must be open), without a copy of them all.
func (m *Manifest) StreamIDs() iter.Seq2[int, chunkstore.ID] {
	return func(yield func(int, chunkstore.ID) bool) {
		for i, n := range m.details.Stream {
			if !yield(i, m.Blobs[n]) {
				return
			}
		}
	}
}
