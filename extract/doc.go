// Package extract materialises a possibly hostile tar stream inside a target
// directory without ever creating, changing or following anything outside it.
//
// Its API is not stable before v1.
//
// [Extract] opens the target with [os.OpenRoot] and does every file
// operation through that root, or through a directory descriptor opened by
// it for the system calls that [os.Root] does not wrap (mknodat, utimensat
// without following a symlink, xattrs). On top of what the root enforces,
// every entry name and hardlink target is checked before use: absolute
// names, ".." components, NUL bytes and empty names are refused, and so is
// any entry whose parent path runs through a symlink, even one that stays
// inside the target. Symlink targets are stored as written, since they are
// created and never followed.
//
// Regular files, directories, symlinks, hardlinks to regular files extracted
// earlier, fifos and, with [Options].Devices, character and block devices
// are created ([Options].UntrustedDevices keeps device nodes of an
// unauthenticated stream below dev/ and not writable by group or others);
// any other entry type is an error wrapping [ErrUnsupported]. Global PAX
// headers are ignored. File data is written with every aligned 4 KiB block
// of zeros left as a hole, so sparse files come back sparse: a snapshot's
// (stored dense) and GNU tar's sparse members (old GNU and PAX formats,
// whose holes the tar reader fills with zeros) alike.
// An entry that names an existing path is an error, except a directory
// entry naming an existing directory, whose attributes it then updates.
//
// Modes (including setuid, setgid and sticky bits), modification and access
// times with nanoseconds, SCHILY.xattr PAX records and, with
// [Options].Owners, numeric owners are restored. Directories are created
// with mode 0700 and receive their own mode, owner and times only once the
// whole stream has been read, deepest first, so that a read-only directory
// does not block its children and writing children does not disturb its
// modification time.
//
// The package works on Linux only: it relies on *at system calls and on
// /proc/self/fd for extended attributes.
package extract
