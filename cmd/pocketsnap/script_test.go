package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/pocketsnap/pocketsnap/internal/testenv"
	"github.com/pocketsnap/pocketsnap/internal/testtree"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"pocketsnap": func() { os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the CLI stories in testdata/script, one user story per
// file. Each script starts with DATA_DIR=$WORK/data, an age identity in
// $WORK/key.txt and its recipient in $RECIPIENT (not yet configured).
func TestScripts(t *testing.T) {
	testenv.NeedTools(t, "age", "zstd", "tar", "sha256sum")
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "script"),
		Setup: func(e *testscript.Env) error {
			id, err := age.GenerateX25519Identity()
			if err != nil {
				return err
			}
			other, _ := age.GenerateX25519Identity()
			e.Setenv("DATA_DIR", filepath.Join(e.WorkDir, "data"))
			e.Setenv("HOME", e.WorkDir)
			e.Setenv("RECIPIENT", id.Recipient().String())
			if err := os.WriteFile(filepath.Join(e.WorkDir, "key.txt"), []byte(id.String()+"\n"), 0o600); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(e.WorkDir, "other-key.txt"), []byte(other.String()+"\n"), 0o600)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"gentree":  cmdGentree,
			"treecmp":  cmdTreecmp,
			"flipbit":  cmdFlipbit,
			"latest":   cmdLatest,
			"setglob":  cmdSetglob,
			"treesum":  cmdTreesum,
			"exits":    cmdExits,
			"jsonl":    cmdJSONL,
			"mksocket": cmdMksocket,
			"holdlock": cmdHoldlock,
		},
		RequireExplicitExec: true,
	})
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

// treecmp WANT GOT: the trees are identical.
func cmdTreecmp(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: treecmp WANT GOT")
	}
	err := testtree.Compare(ts.MkAbs(args[0]), ts.MkAbs(args[1]), testtree.Options{IgnoreOwner: os.Geteuid() != 0})
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
