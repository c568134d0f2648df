// Command benchkv writes seeded key-value pairs for `ldb load`, the
// RocksDB data set of the comparison benchmark (scripts/bench-compare):
//
//	benchkv -keys 400000 [-writes N] [-seed 1] [-value-size 1000] | ldb load …
//
// Each line is "KEY ==> VALUE": KEY a 16-digit decimal number below
// -keys, VALUE -value-size random lowercase hex digits, drawn afresh for
// every value. Unlike db_bench, whose values are slices of one repeating
// 1 MiB buffer (so that a deduplicating backup finds them again in other
// SST files), no two values share content; hex digits carry 4 bits a
// byte, so a value compresses to about half, as text-like data does.
// Without -writes, every key is written once, in a seeded random order
// (day 1); with it, -writes keys are drawn at random, with repeats, and
// given new values (day 2's overwrites, with a different seed).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
)

func main() {
	keys := flag.Int("keys", 400000, "the number of distinct keys")
	writes := flag.Int("writes", 0, "overwrite this many random keys (0: write every key once)")
	seed := flag.Uint64("seed", 1, "seed of the keys' order and the values")
	size := flag.Int("value-size", 1000, "bytes of each value")
	flag.Parse()
	if *keys <= 0 || *writes < 0 || *size <= 0 || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: benchkv -keys N [-writes N] [-seed S] [-value-size B]")
		os.Exit(2)
	}
	if err := write(os.Stdout, *keys, *writes, *seed, *size); err != nil {
		fmt.Fprintf(os.Stderr, "benchkv: error: %v\n", err)
		os.Exit(1)
	}
}

// write prints the pairs: every key once in a random order, or writes
// random keys.
func write(f *os.File, keys, writes int, seed uint64, size int) error {
	rng := rand.New(rand.NewPCG(seed, 0x6b76))
	out := bufio.NewWriterSize(f, 1<<20)
	const hex = "0123456789abcdef"
	line := make([]byte, 0, 16+5+size+1)
	var order []int
	n := writes
	if writes == 0 {
		order = rng.Perm(keys)
		n = keys
	}
	for i := range n {
		k := 0
		if order != nil {
			k = order[i]
		} else {
			k = rng.IntN(keys)
		}
		line = line[:0]
		ks := strconv.Itoa(k)
		for range 16 - len(ks) {
			line = append(line, '0')
		}
		line = append(line, ks...)
		line = append(line, " ==> "...)
		for j := 0; j < size; j += 16 {
			r := rng.Uint64()
			for b := 0; b < 16 && j+b < size; b++ {
				line = append(line, hex[r&15])
				r >>= 4
			}
		}
		line = append(line, '\n')
		if _, err := out.Write(line); err != nil {
			return fmt.Errorf("writing the pairs: %w", err)
		}
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("writing the pairs: %w", err)
	}
	return nil
}
