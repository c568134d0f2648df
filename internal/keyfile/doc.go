// Package keyfile opens the secret files pocketsnap is given (the age
// identity, the offsite secrets), refusing one that group or others may
// read, as ssh refuses a private key with loose permissions.
//
// It is a leaf of its own rather than part of chunkstore because the
// offsite secrets file is checked the same way and config, which may not
// know the repository, opens it.
package keyfile
