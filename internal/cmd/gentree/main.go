//go:build linux

// Command gentree writes a deterministic source tree for benchmarks that
// resembles a Debian root filesystem: many small text-like files, some
// medium and a few large ones, about a quarter of the bytes incompressible,
// directories up to six levels deep, symlinks and hardlinks.
//
// Usage:
//
//	go run ./internal/cmd/gentree -out DIR [-size 1GiB] [-seed 1]
//
// DIR must not exist. The same size and seed always give the same tree
// (paths, contents, modes and mtimes). The recipe is sized for 1 GiB and
// scaled linearly for other sizes: at 1 GiB it writes about 21,000 files.
//
// Byte budget: 28% small files (1–64 KiB, log-uniform), 30% medium
// (100 KiB–2 MiB, log-uniform), 42% large (10–50 MiB). Text-like content
// compresses about 3:1 with zstd -3; incompressible (random) content is
// assigned to 8% of small files, 25% of medium files, and large files
// until a quarter of all bytes are random.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Recipe fractions of the byte budget and file size ranges.
const (
	smallShare  = 0.28
	mediumShare = 0.30 // the rest is large

	smallMin, smallMax   = 1 << 10, 64 << 10
	mediumMin, mediumMax = 100 << 10, 2 << 20
	largeMin, largeMax   = 10 << 20, 50 << 20

	smallRandomP  = 0.08
	mediumRandomP = 0.25
	randomShare   = 0.25

	maxDepth = 6 // of directories below the root

	filesPerDir   = 14    // average files per generated directory
	emptyPerMille = 5     // empty files per 1000 small files
	symlinkShare  = 0.02  // symlinks per file
	hardlinkShare = 0.005 // extra hardlinks per file
)

type kind uint8

const (
	kindText kind = iota
	kindRandom
	kindEmpty
)

type file struct {
	path  string // relative, slash-separated
	size  int64
	kind  kind
	flav  int // text flavour
	seed  uint64
	mode  os.FileMode
	mtime unix.Timespec
}

type link struct {
	path, target string // target relative to the link's dir (symlink) or the root (hardlink)
	mtime        unix.Timespec
}

type dir struct {
	path  string
	depth int
	mtime unix.Timespec
}

type plan struct {
	dirs      []dir
	files     []file
	symlinks  []link
	hardlinks []link
}

func main() {
	out := flag.String("out", "", "create the tree in `DIR` (must not exist)")
	sizeStr := flag.String("size", "1GiB", "approximate total file bytes (e.g. 64MiB, 1GiB, 4GiB)")
	seed := flag.Uint64("seed", 1, "PRNG seed")
	workers := flag.Int("workers", runtime.GOMAXPROCS(0), "parallel file writers")
	flag.Parse()
	if *out == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: gentree -out DIR [-size 1GiB] [-seed N]")
		os.Exit(2)
	}
	size, err := parseSize(*sizeStr)
	if err != nil {
		fatal(err)
	}
	start := time.Now()
	p := makePlan(size, *seed)
	if err := write(*out, p, *workers); err != nil {
		fatal(err)
	}
	var total, random int64
	for _, f := range p.files {
		total += f.size
		if f.kind == kindRandom {
			random += f.size
		}
	}
	fmt.Printf("gentree: %s: %d files, %d dirs, %d symlinks, %d hardlinks, %d bytes (%.1f MiB), %.1f%% random, %.1fs\n",
		*out, len(p.files), len(p.dirs), len(p.symlinks), len(p.hardlinks), total, float64(total)/(1<<20),
		100*float64(random)/float64(max(total, 1)), time.Since(start).Seconds())
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "gentree:", err)
	os.Exit(1)
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.m
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return int64(n * float64(mult)), nil
}

// logUniform returns an integer in [lo, hi] with a log-uniform distribution.
func logUniform(r *rand.Rand, lo, hi int64) int64 {
	l := math.Log(float64(lo)) + r.Float64()*(math.Log(float64(hi))-math.Log(float64(lo)))
	return min(hi, max(lo, int64(math.Exp(l))))
}

var (
	topDirs = []string{"etc", "usr", "usr/bin", "usr/sbin", "usr/lib", "usr/lib/x86_64-linux-gnu",
		"usr/share", "usr/share/doc", "usr/share/locale", "usr/share/man", "usr/include",
		"var", "var/lib", "var/lib/dpkg", "var/log", "var/cache", "opt", "home", "home/user", "root", "srv"}
	textExts   = []string{"conf", "txt", "py", "h", "c", "log", "json", "sh", "md", "xml", "pl", "list"}
	randomExts = []string{"gz", "so", "png", "xz", "deb", "jpg", "mo", "zst"}
)

func makePlan(total int64, seed uint64) *plan {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	names := newNamer(r)
	p := &plan{}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	mtime := func() unix.Timespec {
		return unix.NsecToTimespec((base+r.Int64N(365*24*3600))*1e9 + 1 + r.Int64N(999_999_999))
	}

	// Sizes first, to know how many files (and so directories) there are.
	type sized struct {
		size   int64
		medium bool
		large  bool
	}
	var sizes []sized
	for budget := int64(float64(total) * smallShare); budget > 0; {
		s := logUniform(r, smallMin, smallMax)
		sizes = append(sizes, sized{size: s})
		budget -= s
	}
	for budget := int64(float64(total) * mediumShare); budget > 0; {
		s := logUniform(r, mediumMin, mediumMax)
		sizes = append(sizes, sized{size: s, medium: true})
		budget -= s
	}
	for budget := total - int64(float64(total)*(smallShare+mediumShare)); budget > largeMin/2; {
		s := min(largeMin+r.Int64N(largeMax-largeMin+1), max(budget, largeMin))
		sizes = append(sizes, sized{size: s, large: true})
		budget -= s
	}

	// Directories: the usual top level, then random children up to maxDepth.
	seen := map[string]bool{}
	for _, d := range topDirs {
		p.dirs = append(p.dirs, dir{path: d, depth: strings.Count(d, "/") + 1})
		seen[d] = true
	}
	nDirs := max(len(topDirs), len(sizes)/filesPerDir)
	for len(p.dirs) < nDirs {
		parent := p.dirs[r.IntN(len(p.dirs))]
		if parent.depth >= maxDepth {
			continue
		}
		name := names.word()
		if r.IntN(3) == 0 {
			name += "-" + names.word()
		}
		path := parent.path + "/" + name
		if seen[path] {
			continue
		}
		seen[path] = true
		p.dirs = append(p.dirs, dir{path: path, depth: parent.depth + 1})
	}

	// Files, spread over the directories; a few empty ones among the small.
	var random, all int64
	for i, s := range sizes {
		all += s.size
		f := file{size: s.size, kind: kindText, flav: r.IntN(numFlavours), seed: r.Uint64(), mode: 0o644, mtime: mtime()}
		switch {
		case s.large:
			// decided below
		case s.medium && r.Float64() < mediumRandomP, !s.medium && r.Float64() < smallRandomP:
			f.kind = kindRandom
		case !s.medium && r.IntN(1000) < emptyPerMille:
			f.kind, f.size = kindEmpty, 0
		}
		if f.kind == kindRandom {
			random += f.size
		}
		d := p.dirs[r.IntN(len(p.dirs))]
		ext := textExts[r.IntN(len(textExts))]
		if f.kind == kindRandom {
			ext = randomExts[r.IntN(len(randomExts))]
		}
		f.path = fmt.Sprintf("%s/%s-%s.%s", d.path, names.word(), strconv.FormatInt(int64(i), 36), ext)
		if strings.HasSuffix(d.path, "/bin") || strings.HasSuffix(d.path, "/sbin") {
			f.mode = 0o755
		} else if r.IntN(50) == 0 {
			f.mode = 0o600
		}
		p.files = append(p.files, f)
	}
	// Large files: random until a quarter of all bytes are random.
	for i := range p.files {
		if sizes[i].large && random+p.files[i].size <= int64(float64(all)*randomShare)+largeMin/2 {
			p.files[i].kind = kindRandom
			random += p.files[i].size
			p.files[i].path = strings.TrimSuffix(p.files[i].path, filepath.Ext(p.files[i].path)) + ".img"
		}
	}

	// Symlinks to files (relative), and extra hardlinks of small files.
	for range int(float64(len(p.files)) * symlinkShare) {
		f := p.files[r.IntN(len(p.files))]
		d := p.dirs[r.IntN(len(p.dirs))]
		rel, _ := filepath.Rel(d.path, f.path)
		p.symlinks = append(p.symlinks, link{path: d.path + "/" + names.word() + ".link" + strconv.Itoa(len(p.symlinks)), target: rel, mtime: mtime()})
	}
	for range int(float64(len(p.files)) * hardlinkShare) {
		f := p.files[r.IntN(len(p.files))]
		d := p.dirs[r.IntN(len(p.dirs))]
		p.hardlinks = append(p.hardlinks, link{path: d.path + "/" + names.word() + ".hard" + strconv.Itoa(len(p.hardlinks)), target: f.path})
	}
	// Debian's merged /usr.
	for _, l := range [][2]string{{"bin", "usr/bin"}, {"sbin", "usr/sbin"}, {"lib", "usr/lib"}} {
		p.symlinks = append(p.symlinks, link{path: l[0], target: l[1], mtime: mtime()})
	}
	for i := range p.dirs {
		p.dirs[i].mtime = mtime()
	}
	return p
}

// namer makes pronounceable pseudo-words.
type namer struct{ r *rand.Rand }

func newNamer(r *rand.Rand) *namer { return &namer{r: r} }

func (n *namer) word() string {
	const cons, vows = "bcdfghklmnprstvwxz", "aeiou"
	var b strings.Builder
	for range 1 + n.r.IntN(3) {
		b.WriteByte(cons[n.r.IntN(len(cons))])
		b.WriteByte(vows[n.r.IntN(len(vows))])
		if n.r.IntN(2) == 0 {
			b.WriteByte(cons[n.r.IntN(len(cons))])
		}
	}
	return b.String()
}

func write(root string, p *plan, workers int) error {
	if _, err := os.Lstat(root); err == nil {
		return fmt.Errorf("%s exists", root)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	abs := func(rel string) string { return filepath.Join(root, filepath.FromSlash(rel)) }
	for _, d := range p.dirs {
		if err := os.MkdirAll(abs(d.path), 0o755); err != nil {
			return err
		}
	}

	// Contents in parallel; each file's bytes depend only on its own seed.
	jobs := make(chan *file)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range max(1, workers) {
		wg.Go(func() {
			g := newTextGen()
			buf := make([]byte, 0, 1<<20)
			for f := range jobs {
				if err := writeFile(abs(f.path), f, g, buf); err != nil {
					errs <- err
					for range jobs {
					}
					return
				}
			}
		})
	}
	// Largest first, so the workers finish together.
	order := make([]*file, len(p.files))
	for i := range p.files {
		order[i] = &p.files[i]
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].size > order[j].size })
	for _, f := range order {
		jobs <- f
	}
	close(jobs)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}

	for _, l := range p.hardlinks {
		if err := os.Link(abs(l.target), abs(l.path)); err != nil {
			return err
		}
	}
	for _, l := range p.symlinks {
		if err := os.Symlink(l.target, abs(l.path)); err != nil {
			return err
		}
	}
	setTime := func(path string, ts unix.Timespec) error {
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, path, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("set mtime of %s: %w", path, err)
		}
		return nil
	}
	for _, f := range p.files {
		if err := setTime(abs(f.path), f.mtime); err != nil {
			return err
		}
	}
	for _, l := range p.symlinks {
		if err := setTime(abs(l.path), l.mtime); err != nil {
			return err
		}
	}
	// Directories deepest first, after everything inside them exists.
	ds := append([]dir(nil), p.dirs...)
	sort.SliceStable(ds, func(i, j int) bool { return ds[i].depth > ds[j].depth })
	for _, d := range ds {
		if err := setTime(abs(d.path), d.mtime); err != nil {
			return err
		}
	}
	return setTime(root, unix.Timespec{Sec: 1735689600, Nsec: 1})
}

func writeFile(path string, f *file, g *textGen, buf []byte) error {
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.mode)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(out, 1<<20)
	r := rand.New(rand.NewPCG(f.seed, uint64(f.size)))
	var cc *rand.ChaCha8
	if f.kind == kindRandom {
		var key [32]byte
		for i := range 4 {
			v := r.Uint64()
			for j := range 8 {
				key[i*8+j] = byte(v >> (8 * j))
			}
		}
		cc = rand.NewChaCha8(key)
	}
	for left := f.size; left > 0; {
		n := min(left, int64(cap(buf)))
		b := buf[:n]
		if cc != nil {
			cc.Read(b)
		} else {
			g.fill(r, f.flav, b)
		}
		if _, err := w.Write(b); err != nil {
			out.Close()
			return err
		}
		left -= n
	}
	if err := w.Flush(); err != nil {
		out.Close()
		return err
	}
	if err := out.Chmod(f.mode); err != nil { // not masked by the umask
		out.Close()
		return err
	}
	return out.Close()
}

// Text flavours: configuration, logs, source code, prose.
const numFlavours = 4

// textGen writes text-like bytes: lines of phrases drawn from a fixed
// set, with numbers and hex identifiers mixed in, so that zstd -3
// compresses it about 3:1.
type textGen struct {
	vocab   []string
	phrases [][]byte
}

func newTextGen() *textGen {
	// The phrases are the same for every file and every seed.
	r := rand.New(rand.NewPCG(42, 42))
	n := newNamer(r)
	vocab := make([]string, 2048)
	for i := range vocab {
		vocab[i] = n.word()
	}
	g := &textGen{vocab: vocab}
	for range 4096 {
		var b []byte
		for w := range 2 + r.IntN(4) {
			if w > 0 {
				b = append(b, punct[r.IntN(len(punct))])
			}
			b = append(b, vocab[skewed(r.Uint64(), len(vocab))]...)
		}
		g.phrases = append(g.phrases, b)
	}
	return g
}

// skewed maps random bits to an index below n, small indices being much
// more likely (a product of uniforms, roughly Zipf-like).
func skewed(x uint64, n int) int {
	return int(((x&0xffff)*((x>>16)&0xffff)>>16)*((x>>32)&0xffff)>>16) * n >> 16
}

var (
	punct   = []byte("      ,.;:=()/-_   ")
	hexDig  = []byte("0123456789abcdef")
	prefixs = [numFlavours][]string{
		{"", "# ", "\t", "  "},
		{"Nov 29 04:00:", "Nov 29 04:01:", "kernel: [", "systemd["},
		{"\t", "\t\t", "func ", "\treturn ", "// ", "if ("},
		{"", "", "  ", "- "},
	}
)

// fill fills b with lines of flavour flav.
func (g *textGen) fill(r *rand.Rand, flav int, b []byte) {
	i := 0
	for i < len(b) {
		pre := prefixs[flav]
		v := r.Uint64()
		i += copy(b[i:], pre[v%uint64(len(pre))])
		for range 1 + int((v>>8)%4) {
			x := r.Uint64()
			i += copy(b[i:], g.phrases[int(x&0xffff)*len(g.phrases)>>16])
			if i < len(b) {
				b[i] = ' '
				i++
			}
			switch (x >> 48) & 7 {
			case 0, 2:
				i += copy(b[i:], strconv.FormatUint((x>>51)&0x1fff, 10))
			case 4, 5, 6:
				i += copy(b[i:], g.vocab[int((x>>20)&0xffff)*len(g.vocab)>>16])
			case 1, 3:
				var h [8]byte
				for k := range h {
					h[k] = hexDig[(x>>(4*k))&15]
				}
				i += copy(b[i:], h[:])
			}
		}
		if i < len(b) {
			b[i] = '\n'
			i++
		}
	}
}
