// Package objstore names what every place that holds a repository's
// objects offers: list, stat, read a byte range, put and delete.
//
// [Store] is that one interface. The bucket (package remote) implements
// it, and so does [Dir], a local directory; package objstoretest holds the
// conformance suite every implementation passes, run against a local
// directory, a real MinIO server, and MinIO behind a proxy that resets
// and stalls connections.
//
// Objects are named by slash-separated relative names such as
// data/ab/<id>; a missing object is reported with an error that
// errors.Is matches against [fs.ErrNotExist].
//
// The API is not stable before v1.
package objstore
