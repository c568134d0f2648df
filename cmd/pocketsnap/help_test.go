package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pocketsnap/pocketsnap/config"
)

// knownKey reports whether pocketsnap reads the configuration key k.
func knownKey(k string) bool {
	return slices.ContainsFunc(config.Keys, func(key config.Key) bool { return key.Name == k })
}

// Issue 9: every command's --help has its purpose, its flags, the keys it
// reads and at least two examples, and the examples are real: each runs
// that command with flags it takes and keys pocketsnap reads.
func TestHelpComplete(t *testing.T) {
	for _, c := range commands() {
		code, stdout, stderr := inProcess(t, c.name, "--help")
		if code != 0 || stderr != "" {
			t.Errorf("%s --help: exit %d, stderr %q", c.name, code, stderr)
		}
		for _, want := range []string{"pocketsnap " + c.name + " — " + c.summary + "\n", "\nFlags:\n", "--json", "\nConfiguration keys", "\nExamples:\n"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("%s --help lacks %q:\n%s", c.name, want, stdout)
			}
		}
		if len(c.examples) < 2 {
			t.Errorf("%s has %d examples, want 2 or more", c.name, len(c.examples))
		}
		for _, k := range c.keys {
			if !knownKey(k) {
				t.Errorf("%s --help names the key %s, which pocketsnap does not read", c.name, k)
			}
		}
		fs, _ := c.flags(new(globalOptions))
		for _, ex := range c.examples {
			if err := checkExample(ex, c.name, func(f string) bool {
				if len(f) == 1 {
					return fs.ShorthandLookup(f) != nil
				}
				return fs.Lookup(f) != nil
			}); err != "" {
				t.Errorf("example %q: %s", ex, err)
			}
		}
	}
}

// checkExample checks an example command line: KEY=VALUE assignments of
// known keys, then "pocketsnap CMD", and flags the command takes up to the
// first pipe; a "  # " starts a comment.
func checkExample(ex, cmd string, hasFlag func(string) bool) string {
	ex, _, _ = strings.Cut(ex, "  # ")
	words := strings.Fields(ex)
	for len(words) > 0 && strings.Contains(words[0], "=") {
		if k, _, _ := strings.Cut(words[0], "="); !knownKey(k) {
			return "sets " + k + ", which pocketsnap does not read"
		}
		words = words[1:]
	}
	if len(words) < 2 || words[0] != "pocketsnap" || words[1] != cmd {
		return "does not run pocketsnap " + cmd
	}
	for _, w := range words[2:] {
		if w == "|" {
			break
		}
		if !strings.HasPrefix(w, "-") || w == "-" {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(w, "-"), "=")
		if !hasFlag(name) {
			return "uses " + w + ", which " + cmd + " does not take"
		}
	}
	return ""
}

// Every key of the configuration is documented in the README.
func TestReadmeNamesEveryKey(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range config.Keys {
		if !strings.Contains(string(readme), "`"+k.Name+"`") {
			t.Errorf("the README does not document %s", k.Name)
		}
	}
}

// Issue 9, acceptance 3: the README's exit-code table is the one "pocketsnap
// --help" prints, and some CLI story produces every code in it (the exits
// command of the stories checks the code it expects, and a plain "exec
// pocketsnap" expects 0).
func TestExitCodesDocumented(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	table := readmeExitCodes(t, string(readme))
	if len(table) != len(exitCodes) {
		t.Errorf("the README lists %d exit codes, the help %d", len(table), len(exitCodes))
	}
	for i, c := range exitCodes {
		if i < len(table) && (table[i].code != c.code || table[i].meaning != c.meaning) {
			t.Errorf("README row %d is %d %q, the help says %d %q", i, table[i].code, table[i].meaning, c.code, c.meaning)
		}
	}
	produced := storyExitCodes(t)
	for _, row := range table {
		if len(produced[row.code]) == 0 {
			t.Errorf("exit code %d (%s) is produced by no story in testdata/script", row.code, row.meaning)
		}
	}
	for code, where := range produced {
		if !slices.ContainsFunc(table, func(r exitRow) bool { return r.code == code }) {
			t.Errorf("%s expects exit code %d, which the README does not document", where[0], code)
		}
	}
}

type exitRow struct {
	code    int
	meaning string
}

var exitRowRE = regexp.MustCompile(`^\| (\d+) \| (.+) \|$`)

// readmeExitCodes returns the rows of the table under "### Exit codes".
func readmeExitCodes(t *testing.T, readme string) []exitRow {
	_, section, ok := strings.Cut(readme, "\n### Exit codes\n")
	if !ok {
		t.Fatal("README.md has no \"### Exit codes\" section")
	}
	var rows []exitRow
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "#") {
			break
		}
		if m := exitRowRE.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			rows = append(rows, exitRow{n, m[2]})
		}
	}
	if len(rows) == 0 {
		t.Fatal("README.md's exit-code table is empty")
	}
	return rows
}

var exitsRE = regexp.MustCompile(`^exits (\d+) pocketsnap\b`)

// storyExitCodes returns, per exit code, the story lines that expect it.
func storyExitCodes(t *testing.T) map[int][]string {
	files, err := filepath.Glob(filepath.Join("testdata", "script", "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no stories: %v", err)
	}
	codes := map[int][]string{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if strings.HasPrefix(line, "-- ") {
				break // the files of the archive
			}
			where := f + ":" + strconv.Itoa(n)
			if m := exitsRE.FindStringSubmatch(line); m != nil {
				code, _ := strconv.Atoi(m[1])
				codes[code] = append(codes[code], where)
			} else if strings.HasPrefix(line, "exec pocketsnap ") {
				codes[0] = append(codes[0], where)
			}
		}
		fh.Close()
	}
	return codes
}
