//go:build linux

// Command treetool gives shell scripts the test tree of internal/testtree:
//
//	treetool gen DIR SEED    create DIR with testtree.Generate
//	treetool cmp WANT GOT    compare two trees with testtree.Compare
//
// scripts/test-cross uses it to build the tree an emulated binary backs up
// and to compare what it restored.
package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/pocketsnap/pocketsnap/internal/testtree"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "treetool:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("usage: treetool gen DIR SEED | treetool cmp WANT GOT")
	}
	switch args[0] {
	case "gen":
		seed, err := strconv.ParseInt(args[2], 10, 64)
		if err != nil {
			return fmt.Errorf("seed %q: %w", args[2], err)
		}
		if err := os.Mkdir(args[1], 0o755); err != nil {
			return err
		}
		return testtree.Generate(args[1], seed)
	case "cmp":
		return testtree.Compare(args[1], args[2], testtree.Options{})
	}
	return fmt.Errorf("unknown subcommand %q", args[0])
}
