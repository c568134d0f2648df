package remote_test

import (
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/internal/faultproxy"
	"github.com/pocketsnap/pocketsnap/internal/miniotest"
	"github.com/pocketsnap/pocketsnap/objstore"
	"github.com/pocketsnap/pocketsnap/objstore/objstoretest"
	"github.com/pocketsnap/pocketsnap/remote"
)

func TestMain(m *testing.M) { miniotest.Main(m) }

// settings are those of a fresh bucket on srv, reached at endpoint.
func settings(t *testing.T, srv *miniotest.Server, endpoint string) remote.Settings {
	return remote.Settings{
		Endpoint: endpoint, Bucket: srv.NewBucket(t), Region: srv.Region,
		AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey,
		Prefix: "pocket", CAFile: srv.CAFile,
	}
}

// Issue 19: the bucket passes the store conformance suite on real MinIO.
func TestBucketConformance(t *testing.T) {
	srv := miniotest.Shared(t)
	objstoretest.Run(t, func(t *testing.T) objstore.Store {
		b, err := remote.Dial(settings(t, srv, srv.Endpoint), remote.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

// Issue 19: the bucket passes the store conformance suite through a
// network that resets every fifth connection a little way in: its
// retries hide the faults.
func TestBucketConformanceThroughFaults(t *testing.T) {
	srv := miniotest.Shared(t)
	proxy, err := faultproxy.New(srv.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	proxy.Every(5, faultproxy.Fault{After: 2 << 10, Reset: true})
	objstoretest.Run(t, func(t *testing.T) objstore.Store {
		b, err := remote.Dial(settings(t, srv, "https://"+proxy.Addr()), remote.Options{Retries: 8, StallTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
	if st := proxy.Stats(); st.Resets == 0 {
		t.Fatalf("proxy stats %+v: no fault was injected", st)
	}
}
