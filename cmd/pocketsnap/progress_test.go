package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/pocketsnap/pocketsnap/pipeline"
)

// terminalOutput collects what a program writes to a pseudo-terminal.
type terminalOutput struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
}

func (o *terminalOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// openTerminal returns the terminal side of a new pseudo-terminal and what
// is written to it.
func openTerminal(t *testing.T) (*os.File, *terminalOutput) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	out := &terminalOutput{done: make(chan struct{})}
	go func() {
		defer close(out.done)
		b := make([]byte, 4096)
		for {
			n, err := ptmx.Read(b)
			out.mu.Lock()
			out.buf.Write(b[:n])
			out.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		tty.Close()
		ptmx.Close()
		<-out.done
	})
	return tty, out
}

// waitFor waits until the terminal shows want, for as long as the test may
// run.
func waitFor(t *testing.T, out *terminalOutput, want string) {
	t.Helper()
	deadline, limited := t.Deadline()
	for !strings.Contains(out.String(), want) {
		if limited && time.Until(deadline) < 5*time.Second {
			t.Fatalf("the terminal never showed %q; it shows %q", want, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Issue 9, acceptance 2: on a terminal, the progress printer shows one live
// line that follows the work (count, bytes, rate) and clears it for the
// summary, which ends the output.
func TestProgressOnTerminal(t *testing.T) {
	tty, out := openTerminal(t)
	u := &ui{stdout: tty, stderr: tty}
	if !u.terminal() {
		t.Fatal("a pseudo-terminal is not taken for a terminal")
	}
	p := new(pipeline.Progress)
	pr := u.startProgress("backup files", "entries", 0, p)
	p.Entries.Store(3)
	p.Bytes.Store(3 << 20)
	waitFor(t, out, "backup files: 3 entries")
	waitFor(t, out, "3.0 MiB")
	p.Entries.Store(42)
	p.Bytes.Store(40 << 20)
	waitFor(t, out, "backup files: 42 entries")
	waitFor(t, out, "40 MiB")
	pr.done(struct{}{}, "snapshot files-20261129T040000Z saved: 42 entries")
	waitFor(t, out, "saved: 42 entries\r\n")

	// The live line was redrawn in place and blanked for the summary,
	// which is all the screen shows in the end.
	if screen := render(out.String()); !slices.Equal(screen, []string{"snapshot files-20261129T040000Z saved: 42 entries"}) {
		t.Errorf("the terminal shows %q, want only the summary; output %q", screen, out.String())
	}
}

// With a known total (a restore knows its stream's size) the live line
// is a bar with the share done and an estimate of the time left.
func TestProgressWithTotalOnTerminal(t *testing.T) {
	tty, out := openTerminal(t)
	u := &ui{stdout: tty, stderr: tty}
	p := new(pipeline.Progress)
	pr := u.startProgress("restore db-20261129T040000Z", "", 100<<20, p)
	p.Bytes.Store(25 << 20)
	waitFor(t, out, "restore db-20261129T040000Z")
	waitFor(t, out, "25%")
	p.Bytes.Store(50 << 20)
	waitFor(t, out, "50%")
	pr.done(struct{}{}, "restored db-20261129T040000Z into /tmp/db")
	waitFor(t, out, "/tmp/db\r\n")
	if !strings.Contains(out.String(), "(50/100 MiB, ") || !regexp.MustCompile(`\[\d+s:\d+s\]`).MatchString(out.String()) {
		t.Errorf("no bytes of the total and time left in %q", out.String())
	}
	if screen := render(out.String()); !slices.Equal(screen, []string{"restored db-20261129T040000Z into /tmp/db"}) {
		t.Errorf("the terminal shows %q, want only the summary", screen)
	}
}

// render returns the lines a terminal shows for out, which moves the
// cursor with \r and \n only, without trailing blanks.
func render(out string) []string {
	var lines []string
	var line []rune
	col := 0
	for _, r := range out {
		switch r {
		case '\r':
			col = 0
		case '\n':
			lines = append(lines, strings.TrimRight(string(line), " "))
			line, col = nil, 0
		default:
			if col < len(line) {
				line[col] = r
			} else {
				line = append(line, r)
			}
			col++
		}
	}
	if s := strings.TrimRight(string(line), " "); s != "" {
		lines = append(lines, s)
	}
	return lines
}

// captureOutput runs f with stdout and stderr going to pipes and returns
// what each received.
func captureOutput(t *testing.T, f func(stdout, stderr *os.File)) (string, string) {
	t.Helper()
	var got [2]string
	var files [2]*os.File
	var wg sync.WaitGroup
	for i := range got {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		files[i] = w
		wg.Go(func() {
			b, _ := io.ReadAll(r)
			got[i] = string(b)
			r.Close()
		})
	}
	f(files[0], files[1])
	files[0].Close()
	files[1].Close()
	wg.Wait()
	return got[0], got[1]
}

// runProgress drives a progress printer through some work that lasts
// several of its ticks, then ends it with a summary.
func runProgress(u *ui) {
	p := new(pipeline.Progress)
	pr := u.startProgress("check --read-data", "packs", 10<<20, p)
	for i := range 5 {
		p.Entries.Store(int64(i))
		p.Bytes.Store(int64(i) << 20)
		time.Sleep(300 * time.Millisecond)
	}
	pr.done(struct {
		Packs int `json:"packs"`
	}{5}, "no problems: 5 packs")
}

// In a pipe, and with --quiet on a terminal, the printer prints nothing
// but the summary.
func TestProgressInPipe(t *testing.T) {
	stdout, stderr := captureOutput(t, func(o, e *os.File) { runProgress(&ui{stdout: o, stderr: e}) })
	if stdout != "no problems: 5 packs\n" || stderr != "" {
		t.Errorf("in a pipe: stdout %q, stderr %q; want only the summary", stdout, stderr)
	}

	tty, out := openTerminal(t)
	runProgress(&ui{stdout: tty, stderr: tty, quiet: true})
	waitFor(t, out, "no problems")
	if got := out.String(); got != "no problems: 5 packs\r\n" {
		t.Errorf("--quiet on a terminal printed %q, want only the summary", got)
	}
}

// With --json, the printer reports status lines while the work runs and
// once at its end, then the summary, all on stdout.
func TestProgressJSON(t *testing.T) {
	stdout, stderr := captureOutput(t, func(o, e *os.File) {
		u := &ui{stdout: o, stderr: e, command: "check"}
		u.setJSON(true)
		runProgress(u)
	})
	if stderr != "" {
		t.Errorf("stderr %q", stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) < 2 {
		t.Fatalf("want status lines and a summary, got %q", stdout)
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d: %v: %q", i+1, err, l)
		}
		want := msgStatus
		if i == len(lines)-1 {
			want = msgSummary
		}
		if m["message_type"] != want {
			t.Errorf("line %d is %v, want %s", i+1, m["message_type"], want)
		}
		if want == msgStatus && (m["action"] != "check --read-data" || m["unit"] != "packs" || m["total_bytes"] != float64(10<<20)) {
			t.Errorf("status line %d: %v", i+1, m)
		}
		if want == msgSummary && (m["command"] != "check" || m["packs"] != float64(5)) {
			t.Errorf("summary: %v", m)
		}
	}
	var final map[string]any
	json.Unmarshal([]byte(lines[len(lines)-2]), &final)
	if final["count"] != float64(4) || final["bytes"] != float64(4<<20) {
		t.Errorf("the last status line is %v, want the final counts", final)
	}
}

// Issue 18.19: the rate is measured from the start of the operation: 10
// MiB done by the first redraw, a quarter of a second in, is not shown as
// tens of GiB/s (the bar's clock used to start at its first redraw).
func TestProgressRateFromStart(t *testing.T) {
	tty, out := openTerminal(t)
	u := &ui{stdout: tty, stderr: tty}
	p := new(pipeline.Progress)
	pr := u.startProgress("export db-20261129T040000Z", "", 0, p)
	p.Bytes.Store(10 << 20)
	waitFor(t, out, "10 MiB")
	pr.done(struct{}{}, "exported db-20261129T040000Z")
	waitFor(t, out, "exported db-20261129T040000Z\r\n")
	if m := regexp.MustCompile(`[0-9.]+ [GT]iB/s`).FindString(out.String()); m != "" {
		t.Errorf("a rate of %s for 10 MiB in a quarter of a second: %q", m, out.String())
	}
}
