// Package restore materialises a snapshot into a directory, verified and
// all or nothing.
//
// The snapshot's tar stream is read back through
// [pipeline.StreamReader] (every blob authenticated, the whole stream
// checked against the manifest) and extracted by package extract into a
// staging directory beside the target. Only when the stream has been read
// to its verified end is the staging directory renamed into place; any
// failure removes it, so a failed restore leaves nothing behind.
//
// [Select] chooses the entries that include patterns name, for a partial
// restore that reads only their blobs through [pipeline.NewEntryReader].
//
// The API is not stable before v1.
package restore
