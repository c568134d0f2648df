package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/pocketsnap/pocketsnap/compat"
	"github.com/pocketsnap/pocketsnap/config"
	"github.com/pocketsnap/pocketsnap/export"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

type exportOptions struct {
	out      string
	kind, at string
	plain    bool
	partSize byteSize
	from     repoSource
	expect   string
}

func exportCommand() *command {
	o := exportOptions{partSize: byteSize(compat.DefaultPartSize)}
	return &command{
		name: "export", group: "Restore",
		summary: "write a snapshot as a classic .tar.zst[.age] with a .sha256 sidecar (needs the identity)",
		usage:   "export SNAPSHOT [-o PATH] [flags]\n       pocketsnap export --kind KIND [--at TIME] [-o PATH] [flags]",
		keys:    []string{"DATA_DIR", "BACKUP_DIR", "BACKUP_AGE_IDENTITY", fingerprintKey},
		examples: []string{
			"BACKUP_AGE_IDENTITY=~/key.txt pocketsnap export db-20261129T040000Z   # ${BACKUP_DIR}/db/db-20261129T040000Z.tar.zst.age and .sha256",
			"pocketsnap export --kind rootfs --at 2026-11-01 -o /sdcard/   # the newest complete rootfs snapshot of that day or before",
			"pocketsnap export --from=remote --kind db -o /tmp/   # from the bucket, fetching only what the snapshot needs",
		},
		setup: func(fs *pflag.FlagSet) runner {
			fs.StringVarP(&o.out, "output", "o", "", "write to `PATH`: a file, a directory, or - for stdout (default ${BACKUP_DIR}/KIND/SNAPSHOT.tar.zst[.age])")
			fs.StringVar(&o.kind, "kind", "", "export the newest complete snapshot of `KIND` (at or before --at)")
			fs.StringVar(&o.at, "at", "", "with --kind: at or before `TIME` (20261129T040000Z, RFC 3339, 2026-11-29 for the end of that UTC day, or an age: 36h, 3d)")
			fs.BoolVar(&o.plain, "plain", false, "write a plaintext .tar.zst even from an encrypted repository")
			partSizeFlag(fs, &o.partSize)
			fromFlag(fs, &o.from)
			fingerprintFlag(fs, &o.expect)
			return func(ctx context.Context, e *env, args []string) error { return runExport(ctx, e, o, args) }
		},
	}
}

func runExport(ctx context.Context, e *env, o exportOptions, args []string) error {
	e.fromRemote = o.from == "remote"
	switch {
	case len(args) > 1:
		return usageErrorf("export takes one SNAPSHOT")
	case len(args) == 1 && (o.kind != "" || o.at != ""):
		return usageErrorf("give a SNAPSHOT or --kind KIND [--at TIME], not both")
	case len(args) == 0 && o.kind == "":
		return usageErrorf("export needs a SNAPSHOT (a name or a unique prefix), or --kind KIND [--at TIME]")
	case o.out == "-" && e.ui.json():
		return usageErrorf("--json prints JSON lines on stdout: give -o PATH, not -o -")
	case o.out == "-" && isTerminal(e.ui.stdout):
		return usageErrorf("refusing to write an archive to a terminal: redirect stdout, or give -o PATH")
	}
	opt := export.Options{
		Kind: o.kind, Out: o.out, BackupDir: e.cfg.Value("BACKUP_DIR"),
		Plain: o.plain, PartSize: int64(o.partSize), Reporter: exportReporter{e.ui},
	}
	if len(args) == 1 {
		opt.Snapshot = args[0]
	}
	if o.at != "" {
		t, err := manifest.ParseTime(o.at, time.Now().UTC())
		if err != nil {
			return usageErrorf("--at: %v", err)
		}
		opt.At = t
	}
	if o.out == "-" {
		opt.Out, opt.Stdout = "", e.ui.stdout
	}
	s, release, err := openForReading(ctx, e, o.expect)
	if err != nil {
		return err
	}
	defer release()
	res, err := export.Run(ctx, s, opt)
	if err != nil {
		return err
	}
	took := res.Duration.Round(time.Millisecond)
	if res.Archive == nil {
		e.ui.infof("exported %s to stdout: %s, verified, took %s", res.Snapshot, humanBytes(res.Bytes), took)
		return nil
	}
	fmt.Fprintf(e.ui.stdout, "exported %s, verified, took %s\n", res.Snapshot, took)
	printArchive(e.ui.stdout, res.Archive)
	e.ui.summary(writtenSummary(res.Snapshot, res.Archive, res.Encrypted, time.Now().Add(-res.Duration)))
	return nil
}

// exportReporter renders what an export reports.
type exportReporter struct{ u *ui }

func (r exportReporter) Info(msg string) { r.u.infof("%s", msg) }
func (r exportReporter) Warn(msg string) { r.u.warnf("%s", msg) }
func (r exportReporter) Copying(snapshot string, total int64, p *pipeline.Progress) func() {
	return r.u.startProgress("export "+snapshot, "", total, p).stop
}

// printArchive says where a classic archive was written and how to check
// it.
func printArchive(w io.Writer, res *compat.Written) {
	sidecar := res.Sidecar
	if res.PlainSidecar != "" {
		sidecar += ", and " + res.PlainSidecar + " of the decrypted archive"
	}
	if len(res.Files) == 1 {
		fmt.Fprintf(w, "classic archive %s (%s), sidecar %s\n", res.Path, humanBytes(res.Size), sidecar)
		return
	}
	fmt.Fprintf(w, "classic archive %s (%s) in %d parts %s … %s (reassemble with cat), sidecar %s\n",
		res.Path, humanBytes(res.Size), len(res.Files), filepath.Base(res.Files[0]), filepath.Base(res.Files[len(res.Files)-1]), sidecar)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// compatFlags are backup's flags for the classic archive it can write in
// the same pass as the snapshot.
type compatFlags struct {
	fs       *pflag.FlagSet
	on       bool
	partSize byteSize
}

func (c *compatFlags) register(fs *pflag.FlagSet) {
	c.fs = fs
	c.partSize = byteSize(compat.DefaultPartSize)
	fs.BoolVar(&c.on, "compat", false, "also write the classic archive ${BACKUP_DIR}/KIND/SNAPSHOT.tar.zst[.age] and its .sha256, in the same pass; reads every file (default BACKUP_COMPAT)")
	partSizeFlag(fs, &c.partSize)
}

// enabled reports whether to write the archive: --compat, or else (and
// without flags, in the daemon) BACKUP_COMPAT.
func (c *compatFlags) enabled(e *env) (bool, error) {
	if c.fs != nil && c.fs.Changed("compat") {
		return c.on, nil
	}
	return e.cfg.Bool("BACKUP_COMPAT")
}

// byteSize is a flag value in bytes: a number, optionally with a binary
// unit (K, M, G, T, also written KiB, MiB…).
type byteSize int64

// Set reads a size as config.ParseSize does.
func (b *byteSize) Set(s string) error {
	n, err := config.ParseSize(s)
	if err != nil {
		return err
	}
	*b = byteSize(n)
	return nil
}

func (b *byteSize) String() string {
	n := int64(*b)
	for _, u := range []struct {
		unit  string
		shift int
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n != 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.unit
		}
	}
	return strconv.FormatInt(n, 10)
}

func (b *byteSize) Type() string { return "size" }

// partSizeFlag registers --part-size, the largest file of a classic
// archive.
func partSizeFlag(fs *pflag.FlagSet, p *byteSize) {
	fs.Var(p, "part-size", "write a classic archive larger than `SIZE` as parts NAME.part-000, -001, … of SIZE bytes; the default is 64 MiB below S3's 5 GiB single-PUT limit")
}
