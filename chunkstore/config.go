package chunkstore

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// FormatVersion is the repository format version this package writes for
// new repositories. It reads and writes into repositories of every version
// from 1 to FormatVersion (doc/format.md describes both).
const FormatVersion = 2

// Chunking holds the parameters that cut a tar stream into blobs. They are
// fixed when the repository is created, because changing them would stop
// deduplication against everything stored before.
type Chunking struct {
	// SmallBody is the largest entry body (with padding) stored as a single
	// blob; larger bodies are split by content-defined chunking.
	SmallBody int64 `json:"small_body"`
	// MinSize and MaxSize bound content-defined chunks.
	MinSize uint32 `json:"min_size"`
	MaxSize uint32 `json:"max_size"`
	// AverageBits sets the average chunk size to 2^AverageBits bytes.
	AverageBits int `json:"average_bits"`
}

// DefaultChunking are the chunking parameters of new repositories; see
// doc/format.md for the measurements behind them.
var DefaultChunking = Chunking{
	SmallBody:   1 << 20,
	MinSize:     256 << 10,
	MaxSize:     4 << 20,
	AverageBits: 20,
}

// DefaultPackSize is the size at which an open pack is sealed.
const DefaultPackSize = 4 << 20

// Params are the repository parameters a config holds, all public.
type Params struct {
	Version int `json:"version"`
	// ID identifies the repository (random, public).
	ID string `json:"id"`
	// Encoding says how stored objects are undone: EncodingAge or
	// EncodingPlain.
	Encoding string `json:"encoding"`
	// Recipients are the age recipients every object is encrypted to.
	Recipients []string `json:"recipients,omitempty"`
	Chunking   Chunking `json:"chunking"`
	// PackSize is the target size of a pack's plaintext.
	PackSize int       `json:"pack_size"`
	Created  time.Time `json:"created"`
}

// Config is the plaintext repository configuration, stored in the file
// "config". It holds nothing secret.
type Config struct {
	Params
	// MAC authenticates the parameters under the repository's MAC key
	// (hex), so that whoever holds a copy cannot, say, add a recipient of
	// their own for the device to encrypt to. Version 1 stores it inside
	// the JSON and computes it over Go's re-encoding of the rest; version
	// 2 stores it on a line of its own, over the stored bytes of the
	// first line.
	MAC string `json:"mac"`

	// stored is the first line as stored (version 2): what the MAC covers.
	stored []byte
}

// The contexts that start the message a config's MAC covers.
const (
	configMACContext   = "pocketsnap config v1\n"
	configMACContextV2 = "pocketsnap config v2\n"
)

// macMessage is what the config's MAC covers. Version 1: its JSON
// re-encoded without the MAC. Version 2: its first line as stored.
func (c Config) macMessage() ([]byte, error) {
	if c.Version >= 2 {
		if c.stored == nil {
			b, err := json.Marshal(c.Params)
			if err != nil {
				return nil, err
			}
			c.stored = b
		}
		return append([]byte(configMACContextV2), c.stored...), nil
	}
	c.MAC = ""
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return append([]byte(configMACContext), b...), nil
}

// sign sets the config's MAC.
func (c *Config) sign(k *Keys) error {
	msg, err := c.macMessage()
	if err != nil {
		return err
	}
	c.MAC = hex.EncodeToString(k.MAC(msg))
	return nil
}

// encode signs the config and returns its stored bytes.
func (c *Config) encode(k *Keys) ([]byte, error) {
	if c.Version >= 2 {
		b, err := json.Marshal(c.Params)
		if err != nil {
			return nil, err
		}
		c.stored = b
		if err := c.sign(k); err != nil {
			return nil, err
		}
		return append(append(b, '\n'), configMACLine(c.MAC)...), nil
	}
	if err := c.sign(k); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	return append(b, '\n'), err
}

// configMACLine is the second line of a version 2 config.
func configMACLine(mac string) []byte { return []byte(`{"mac":"` + mac + "\"}\n") }

// verify checks the config's MAC against the repository secrets.
func (c Config) verify(k *Keys) error {
	mac, err := hex.DecodeString(c.MAC)
	if err != nil || len(mac) == 0 {
		return fmt.Errorf("%w: config: no valid MAC", ErrCorrupt)
	}
	msg, err := c.macMessage()
	if err != nil {
		return err
	}
	if !k.VerifyMAC(msg, mac) {
		return fmt.Errorf("%w: config: its MAC does not match the repository secrets: it was altered (a recipient added?) or belongs to other secrets", ErrCorrupt)
	}
	return nil
}

func newConfig(recipients []string) (Config, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return Config{}, fmt.Errorf("failed to generate repository ID: %w", err)
	}
	enc := EncodingPlain
	if len(recipients) > 0 {
		enc = EncodingAge
	}
	return Config{Params: Params{
		Version:    FormatVersion,
		ID:         hex.EncodeToString(id[:]),
		Encoding:   enc,
		Recipients: recipients,
		Chunking:   DefaultChunking,
		PackSize:   DefaultPackSize,
		Created:    time.Now().UTC().Truncate(time.Second),
	}}, nil
}

// ParseConfig decodes and validates a repository's config object: one
// JSON object holding its MAC (version 1), or the parameters on one line
// and the MAC on a second (version 2 and later), and nothing else.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	if i := bytes.IndexByte(b, '\n'); i > 0 && json.Valid(b[:i]) {
		if err := json.Unmarshal(b[:i], &c.Params); err != nil {
			return c, err
		}
		var m struct {
			MAC string `json:"mac"`
		}
		if err := json.Unmarshal(b[i+1:], &m); err != nil || !bytes.Equal(b[i+1:], configMACLine(m.MAC)) {
			return c, errors.New(`the line after the parameters is not exactly {"mac":"…"} and a newline`)
		}
		c.MAC, c.stored = m.MAC, b[:i]
		if c.Version < 2 {
			return c, fmt.Errorf("version %d in the layout of version 2", c.Version)
		}
	} else if err := json.Unmarshal(b, &c); err != nil {
		return c, err
	} else if c.Version != 1 {
		return c, fmt.Errorf("version %d in the layout of version 1", c.Version)
	}
	if c.Version > FormatVersion {
		return c, fmt.Errorf("unsupported repository version %d (this pocketsnap reads versions 1 to %d)", c.Version, FormatVersion)
	}
	switch {
	case c.Encoding == EncodingAge && len(c.Recipients) == 0:
		return c, fmt.Errorf("encoding %q without recipients", c.Encoding)
	case c.Encoding != EncodingAge && c.Encoding != EncodingPlain:
		return c, fmt.Errorf("unknown encoding %q", c.Encoding)
	}
	ch := c.Chunking
	if ch.MinSize == 0 || ch.MaxSize < ch.MinSize || ch.MaxSize > maxBlobSize || ch.SmallBody <= 0 ||
		ch.SmallBody > maxBlobSize || ch.AverageBits < 10 || ch.AverageBits > 30 {
		return c, fmt.Errorf("invalid chunking parameters %+v", ch)
	}
	if c.PackSize <= 0 || c.PackSize > maxPackSize {
		return c, fmt.Errorf("invalid pack_size %d", c.PackSize)
	}
	return c, nil
}
