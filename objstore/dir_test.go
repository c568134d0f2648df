package objstore_test

import (
	"testing"

	"github.com/pocketsnap/pocketsnap/objstore"
	"github.com/pocketsnap/pocketsnap/objstore/objstoretest"
)

// Issue 19: the local directory passes the store conformance suite.
func TestDirConformance(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Store { return objstore.NewDir(t.TempDir()) })
}
