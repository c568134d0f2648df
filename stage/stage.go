package stage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Options configure a staging.
type Options struct {
	// Immutable reports whether a file, by slash-separated path relative to
	// the source, is never modified once written: such files are
	// hard-linked rather than copied. Nil means none.
	Immutable func(rel string) bool
}

// Result describes a staged view.
type Result struct {
	// Linked and Copied count the files hard-linked and copied.
	Linked, Copied int
	// CopiedBytes is the size of the files copied: the extra disk the
	// staged view takes.
	CopiedBytes int64
	// LinkErr, when set, is why hard links were impossible: every file
	// from then on was copied instead.
	LinkErr error
}

// link is os.Link; tests replace it to force the fall-back copy.
var link = os.Link

type stager struct {
	ctx    context.Context
	opt    Options
	res    Result
	copies map[inode]string // staged path of each multiply-linked copy
}

type inode struct{ dev, ino uint64 }

// Stage recreates the tree at src as dst, which must not exist. On error
// (including ctx's cancellation) dst is removed again.
func Stage(ctx context.Context, src, dst string, opt Options) (*Result, error) {
	info, err := os.Lstat(src)
	if err != nil {
		return nil, fmt.Errorf("failed to stage %s: %w", src, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("failed to stage %s: not a directory", src)
	}
	s := &stager{ctx: ctx, opt: opt, copies: map[inode]string{}}
	if err := s.dir(src, dst, ".", info); err != nil {
		return nil, errors.Join(err, Remove(dst))
	}
	return &s.res, nil
}

// dir recreates a directory and, after its contents, its metadata: a
// directory's mtime is set only once nothing more is created in it.
func (s *stager) dir(src, dst, rel string, info fs.FileInfo) error {
	if err := os.Mkdir(dst, 0o700); err != nil {
		return fmt.Errorf("failed to stage %s: %w", src, err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("failed to stage %s: %w", src, err)
	}
	for _, ent := range ents {
		if err := s.ctx.Err(); err != nil {
			return fmt.Errorf("staging of %s interrupted: %w", src, err)
		}
		childRel := ent.Name()
		if rel != "." {
			childRel = rel + "/" + ent.Name()
		}
		if err := s.entry(filepath.Join(src, ent.Name()), filepath.Join(dst, ent.Name()), childRel); err != nil {
			return err
		}
	}
	return setMeta(src, dst, info)
}

func (s *stager) entry(src, dst, rel string) error {
	info, err := os.Lstat(src)
	if err != nil {
		return fmt.Errorf("failed to stage %s: %w", src, err)
	}
	switch mode := info.Mode(); {
	case mode.IsDir():
		return s.dir(src, dst, rel, info)
	case mode&fs.ModeSymlink != 0:
		return copySymlink(src, dst, info)
	case !mode.IsRegular():
		return fmt.Errorf("failed to stage %s: unsupported file type %v", src, mode.Type())
	}
	if s.res.LinkErr == nil && s.opt.Immutable != nil && s.opt.Immutable(rel) {
		err := link(src, dst)
		if err == nil {
			s.res.Linked++
			return nil
		}
		if !errors.Is(err, syscall.EXDEV) && !errors.Is(err, syscall.EPERM) {
			return fmt.Errorf("failed to stage %s: %w", src, err)
		}
		s.res.LinkErr = err
	}
	return s.regular(src, dst, info)
}

// regular copies a file, keeping the source's hard links among copies.
func (s *stager) regular(src, dst string, info fs.FileInfo) error {
	st := info.Sys().(*syscall.Stat_t)
	key := inode{uint64(st.Dev), st.Ino}
	if st.Nlink > 1 {
		if first, ok := s.copies[key]; ok {
			if err := os.Link(first, dst); err != nil {
				return fmt.Errorf("failed to stage %s: %w", src, err)
			}
			return nil
		}
		s.copies[key] = dst
	}
	s.res.Copied++
	s.res.CopiedBytes += info.Size()
	return copyFile(src, dst, info)
}
