package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/pocketsnap/pocketsnap/internal/miniotest"
	"github.com/pocketsnap/pocketsnap/internal/testenv"
	"github.com/pocketsnap/pocketsnap/internal/testtree"
)

func TestMain(m *testing.M) {
	// The binary the tests run is this one, running main: signals and
	// all, as users run it.
	testscript.Main(miniotest.Wrap(m), map[string]func(){"pocketsnap": main})
}

// TestScripts runs the CLI stories in testdata/script, one user story per
// file. Each script starts with DATA_DIR=$WORK/data, an age identity in
// $WORK/key.txt and its recipient in $RECIPIENT (not yet configured), and
// $FAR_HOUR, a wake hour twelve hours away, so that no wake passes during
// a story about scheduled jobs.
func TestScripts(t *testing.T) {
	testenv.NeedTools(t, "age", "zstd", "tar", "sha256sum")
	testscript.Run(t, scriptParams(filepath.Join("testdata", "script"), nil))
}

// TestRemoteScripts runs the stories in testdata/remote against a real
// MinIO server. Besides what TestScripts gives, the command "bucket"
// creates a fresh bucket and writes ${DATA_DIR}/secrets/offsite.env for
// it, and "nosecret" checks that the bucket's secret key appears in no
// output.
func TestRemoteScripts(t *testing.T) {
	testenv.NeedTools(t, "age", "zstd", "tar", "sha256sum")
	srv := miniotest.Shared(t)
	secrets := map[*testscript.TestScript]string{}
	buckets := map[*testscript.TestScript]string{}
	var mu sync.Mutex
	testscript.Run(t, scriptParams(filepath.Join("testdata", "remote"), map[string]func(ts *testscript.TestScript, neg bool, args []string){
		// bucket: a fresh bucket, and the secrets file for it (0600).
		"bucket": func(ts *testscript.TestScript, neg bool, args []string) {
			bucket := srv.NewBucket(t)
			secret := srv.SecretKey
			mu.Lock()
			secrets[ts], buckets[ts] = secret, bucket
			mu.Unlock()
			dir := filepath.Join(ts.Getenv("DATA_DIR"), "secrets")
			ts.Check(os.MkdirAll(dir, 0o700))
			ts.Check(os.WriteFile(filepath.Join(dir, "offsite.env"), fmt.Appendf(nil,
				"S3_ENDPOINT=%s\nS3_BUCKET=%s\nS3_REGION=%s\nS3_ACCESS_KEY_ID=%s\nS3_SECRET_ACCESS_KEY=%s\nS3_PREFIX=pocket\nS3_CA_FILE=%s\n",
				srv.Endpoint, bucket, srv.Region, srv.AccessKey, secret, srv.CAFile), 0o600))
			ts.Setenv("S3_HOST", srv.Host)
		},
		// bucketdamage flip|truncate|delete PREFIX: flip a bit in the
		// middle of, cut in half, or delete every object of the bucket
		// under PREFIX (below S3_PREFIX), as bit rot or a provider would.
		"bucketdamage": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 2 || !slices.Contains([]string{"flip", "truncate", "delete"}, args[0]) {
				ts.Fatalf("usage: bucketdamage flip|truncate|delete PREFIX")
			}
			mu.Lock()
			bucket := buckets[ts]
			mu.Unlock()
			ctx, c := context.Background(), srv.Client(t)
			n := 0
			for obj := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: "pocket/" + args[1], Recursive: true}) {
				ts.Check(obj.Err)
				n++
				if args[0] == "delete" {
					ts.Check(c.RemoveObject(ctx, bucket, obj.Key, minio.RemoveObjectOptions{}))
					continue
				}
				r, err := c.GetObject(ctx, bucket, obj.Key, minio.GetObjectOptions{})
				ts.Check(err)
				b, err := io.ReadAll(r)
				r.Close()
				ts.Check(err)
				if args[0] == "flip" {
					b[len(b)/2] ^= 1
				} else {
					b = b[:len(b)/2]
				}
				_, err = c.PutObject(ctx, bucket, obj.Key, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{})
				ts.Check(err)
			}
			if n == 0 {
				ts.Fatalf("no object under %s", args[1])
			}
		},
		// nosecret: the last command's stdout and stderr hold no secret.
		"nosecret": func(ts *testscript.TestScript, neg bool, args []string) {
			mu.Lock()
			secret := secrets[ts]
			mu.Unlock()
			for _, f := range []string{"stdout", "stderr"} {
				if strings.Contains(ts.ReadFile(f), secret) {
					ts.Fatalf("the secret key appears in %s", f)
				}
			}
		},
	}))
}

// scriptParams are the parameters of the CLI stories in dir, with extra
// commands.
func scriptParams(dir string, extra map[string]func(ts *testscript.TestScript, neg bool, args []string)) testscript.Params {
	cmds := map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"gentree":     cmdGentree,
		"treecmp":     cmdTreecmp,
		"flipbit":     cmdFlipbit,
		"latest":      cmdLatest,
		"setglob":     cmdSetglob,
		"treesum":     cmdTreesum,
		"fingerprint": cmdFingerprint,
		"exits":       cmdExits,
		"jsonl":       cmdJSONL,
		"mksocket":    cmdMksocket,
		"holdlock":    cmdHoldlock,
	}
	maps.Copy(cmds, extra)
	return testscript.Params{
		Dir: dir,
		Setup: func(e *testscript.Env) error {
			id, err := age.GenerateX25519Identity()
			if err != nil {
				return err
			}
			other, _ := age.GenerateX25519Identity()
			e.Setenv("DATA_DIR", filepath.Join(e.WorkDir, "data"))
			e.Setenv("HOME", e.WorkDir)
			e.Setenv("RECIPIENT", id.Recipient().String())
			e.Setenv("FAR_HOUR", farHour())
			if err := os.WriteFile(filepath.Join(e.WorkDir, "key.txt"), []byte(id.String()+"\n"), 0o600); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(e.WorkDir, "other-key.txt"), []byte(other.String()+"\n"), 0o600)
		},
		Cmds:                cmds,
		RequireExplicitExec: true,
	}
}

// farHour is the wake hour twelve hours from now.
func farHour() string { return strconv.Itoa((time.Now().UTC().Hour() + 12) % 24) }

// fingerprint VAR: set VAR to the repository fingerprint the last command
// printed on stdout.
func cmdFingerprint(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: fingerprint VAR")
	}
	m := regexp.MustCompile(`repository fingerprint:? (\S+)`).FindStringSubmatch(ts.ReadFile("stdout") + ts.ReadFile("stderr"))
	if m == nil {
		ts.Fatalf("no fingerprint in the last command's output")
	}
	ts.Setenv(args[0], m[1])
}

// gentree DIR SEED: generate a tree with every entry type.
func cmdGentree(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: gentree DIR SEED")
	}
	seed, _ := strconv.ParseInt(args[1], 10, 64)
	dir := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dir, 0o755))
	ts.Check(testtree.Generate(dir, seed))
}

// treecmp [-subset] WANT GOT: the trees are identical; with -subset, GOT
// is identical to the same paths of WANT.
func cmdTreecmp(ts *testscript.TestScript, neg bool, args []string) {
	opt := testtree.Options{IgnoreOwner: os.Geteuid() != 0}
	if len(args) > 0 && args[0] == "-subset" {
		opt.Subset, args = true, args[1:]
	}
	if len(args) != 2 {
		ts.Fatalf("usage: treecmp [-subset] WANT GOT")
	}
	err := testtree.Compare(ts.MkAbs(args[0]), ts.MkAbs(args[1]), opt)
	if neg {
		if err == nil {
			ts.Fatalf("trees are identical")
		}
		return
	}
	ts.Check(err)
}

// flipbit DIR: flip one bit in the middle of every regular file below DIR
// (e.g. the packs of a repository).
func cmdFlipbit(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: flipbit DIR")
	}
	n := 0
	ts.Check(filepath.WalkDir(ts.MkAbs(args[0]), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			return err
		}
		b[len(b)/2] ^= 0x01
		n++
		return os.WriteFile(p, b, 0o600)
	}))
	if n == 0 {
		ts.Fatalf("no file to corrupt below %s", args[0])
	}
	fmt.Fprintf(ts.Stdout(), "corrupted %d files\n", n)
}

// latest VAR [KIND]: set VAR to the name of the newest snapshot (of KIND)
// in the default repository.
func cmdLatest(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: latest VAR [KIND]")
	}
	ents, err := os.ReadDir(ts.MkAbs("data/backups/repo/snapshots"))
	ts.Check(err)
	name := ""
	for _, e := range ents {
		if len(args) == 1 || strings.HasPrefix(e.Name(), args[1]+"-") {
			name = e.Name()
		}
	}
	if name == "" {
		ts.Fatalf("no snapshots")
	}
	ts.Setenv(args[0], name)
}

// setglob VAR PATTERN: set VAR to the single path matching PATTERN.
func cmdSetglob(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: setglob VAR PATTERN")
	}
	m, err := filepath.Glob(ts.MkAbs(args[1]))
	ts.Check(err)
	if len(m) != 1 {
		ts.Fatalf("%s matches %d paths: %v", args[1], len(m), m)
	}
	ts.Setenv(args[0], m[0])
}

// treesum DIR FILE: write the hash of the whole tree DIR to FILE.
func cmdTreesum(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: treesum DIR FILE")
	}
	h, err := testtree.Hash(ts.MkAbs(args[0]))
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(h+"\n"), 0o644))
}
