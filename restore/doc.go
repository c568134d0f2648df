// Package restore materialises a snapshot into a directory, verified and
// all or nothing.
//
// The snapshot's tar stream is read back through
// [pipeline.StreamReader] (every blob authenticated, the whole stream
// checked against the manifest) and extracted by package extract into a
// staging directory beside the target, <target>.restoring-<UTC>, whose
// tree/ it fills while holding an exclusive flock(2) on its lock file.
// Only when the stream has been read to its verified end is the tree
// renamed into place; any failure removes the staging directory, so a
// failed restore leaves nothing behind. One that was killed leaves it
// unlocked: the next restore of the same target removes it, and never
// one whose lock a live restore holds.
//
// [Select] chooses the entries that include patterns name, for a partial
// restore that reads only their blobs through [pipeline.NewEntryReader].
//
// A whole-system restore is a [System]: [Plan] chooses a snapshot of each
// kind for the live directories ([Live]), [System.Preview] says what it
// would do, [System.Run] stages every step while the services run and
// swaps them in between the stop and start commands, moving the live
// directories aside; [System.Rollback] swaps the newest one back. Front
// ends only render the typed plan and results.
//
// The API is not stable before v1.
package restore
