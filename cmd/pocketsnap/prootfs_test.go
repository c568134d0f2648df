package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"

	"github.com/pocketsnap/pocketsnap/internal/testtree"
)

// The Termux user owning a proot-distro rootfs on the old phone, and the
// new phone's Termux user, which has another uid.
const (
	termuxUID    = 10250
	newTermuxUID = 10311
)

// prootRootfs makes a tree shaped like a rootfs proot-distro installed:
// owned by the Termux user, with hard links kept by link2symlink as a
// .l2s.* file holding the data and symlinks with absolute targets (as the
// phone sees them, dangling here) pointing at it.
func prootRootfs(t *testing.T, dir string) {
	t.Helper()
	const abs = "/data/data/com.termux/files/usr/var/lib/proot-distro/containers/debian/rootfs"
	for _, d := range []string{"etc", "usr/bin", "var/lib/dpkg", "root"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(rel, data string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(data), mode); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, rel string) {
		if err := os.Symlink(target, filepath.Join(dir, rel)); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/.l2s.passwd0001", "root:x:0:0:root:/root:/bin/bash\n", 0o644)
	write("etc/.l2s.passwd0001.0002", "", 0o644) // link2symlink's link count file
	link(abs+"/etc/.l2s.passwd0001", "etc/passwd")
	link(abs+"/etc/.l2s.passwd0001", "etc/passwd-")
	write("usr/bin/.l2s.perl5.36.00001", "#!perl binary\n", 0o755)
	link(abs+"/usr/bin/.l2s.perl5.36.00001", "usr/bin/perl")
	link(abs+"/usr/bin/.l2s.perl5.36.00001", "usr/bin/perl5.36.0")
	link("perl", "usr/bin/perl-rel")
	write("var/lib/dpkg/status", "Package: base-files\n", 0o644)
	write("root/.bash_history", "ls\n", 0o600)
	chownTree(t, dir, termuxUID)
}

// chownTree gives root and everything below it to uid (and the group of
// the same number), without following symlinks.
func chownTree(t *testing.T, root string, uid int) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, uid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Issue 21.4: a proot-distro rootfs comes back exactly: .l2s.* files, the
// symlinks to them with their absolute targets verbatim, modes, mtimes;
// restored as root with the recorded owner, and as a non-root user (the
// new phone's Termux user) with that user owning every entry.
func TestProotRootfsRoundTrip(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to own files as the Termux user and to restore as another user")
	}
	c := newCLI(t)
	src := filepath.Join(c.dir, "rootfs")
	prootRootfs(t, src)
	c.mustRun("backup", "rootfs", "--source", src)
	snap := regexp.MustCompile(`rootfs-\d{8}T\d{6}Z`).FindString(c.mustRun("snapshots"))

	asRoot := filepath.Join(c.dir, "as-root")
	c.mustRun("restore", snap, "--target", asRoot)
	if err := testtree.Compare(src, asRoot, testtree.Options{}); err != nil {
		t.Errorf("restored as root: %v", err)
	}

	// As the new phone's Termux user, who owns the repository and keys
	// (copied over) and the directory it restores into.
	c.cred = &syscall.Credential{Uid: newTermuxUID, Gid: newTermuxUID}
	bin := filepath.Join(c.dir, "pocketsnap")
	data, err := os.ReadFile(c.bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	c.bin = bin
	for p := c.dir; p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	chownTree(t, filepath.Join(c.dir, "data"), newTermuxUID)
	chownTree(t, filepath.Join(c.dir, "key.txt"), newTermuxUID)
	home := filepath.Join(c.dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	chownTree(t, home, newTermuxUID)
	asUser := filepath.Join(home, "rootfs")
	c.mustRun("restore", snap, "--target", asUser)
	if err := testtree.Compare(src, asUser, testtree.Options{IgnoreOwner: true}); err != nil {
		t.Errorf("restored as uid %d: %v", newTermuxUID, err)
	}
	err = filepath.WalkDir(asUser, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return err
		}
		if st.Uid != newTermuxUID || st.Gid != newTermuxUID {
			t.Errorf("%s restored by uid %d is owned by %d:%d", p, newTermuxUID, st.Uid, st.Gid)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Issue 21.5: config says which proot-distro layout ROOTFS_DIR's default
// found.
func TestConfigSaysWhichRootfsLayout(t *testing.T) {
	c := newCLI(t)
	prefix := filepath.Join(c.dir, "usr")
	c.env = append(c.env, "PREFIX="+prefix)
	legacy := filepath.Join(prefix, "var/lib/proot-distro/installed-rootfs/debian")
	v5 := filepath.Join(prefix, "var/lib/proot-distro/containers/debian/rootfs")
	for _, tc := range []struct{ mkdir, want string }{
		{legacy, `(?m)^ROOTFS_DIR +` + regexp.QuoteMeta(legacy) + ` +default, proot-distro before 5 \(installed-rootfs/<name>\)$`},
		{v5, `(?m)^ROOTFS_DIR +` + regexp.QuoteMeta(v5) + ` +default, proot-distro 5 \(containers/<name>/rootfs\)$`},
	} {
		if err := os.MkdirAll(tc.mkdir, 0o755); err != nil {
			t.Fatal(err)
		}
		_, out := c.run("config")
		if !regexp.MustCompile(tc.want).MatchString(out) {
			t.Errorf("with %s, config does not say so:\n%s", tc.mkdir, out)
		}
	}
}
