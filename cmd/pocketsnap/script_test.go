package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"filippo.io/age"
	"github.com/rogpeppe/go-internal/testscript"

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
			"gentree": cmdGentree,
			"treecmp": cmdTreecmp,
			"flipbit": cmdFlipbit,
			"latest":  cmdLatest,
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

// latest VAR: set VAR to the name of the newest snapshot in the default
// repository.
func cmdLatest(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: latest VAR")
	}
	ents, err := os.ReadDir(ts.MkAbs("data/backups/repo/snapshots"))
	ts.Check(err)
	if len(ents) == 0 {
		ts.Fatalf("no snapshots")
	}
	ts.Setenv(args[0], ents[len(ents)-1].Name())
}
