package chunkstore

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// FormatVersion is the repository format version this package writes and
// reads.
const FormatVersion = 1

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

// Config is the plaintext repository configuration, stored as JSON in the
// file "config". It holds nothing secret.
type Config struct {
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
	// MAC authenticates the rest under the repository's MAC key (hex), so
	// that whoever holds a copy cannot, say, add a recipient of their own
	// for the device to encrypt to.
	MAC string `json:"mac"`
}

// configMACContext starts the message a config's MAC covers.
const configMACContext = "pocketsnap config v1\n"

// macMessage is what the config's MAC covers: its JSON without the MAC.
func (c Config) macMessage() ([]byte, error) {
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
	return Config{
		Version:    FormatVersion,
		ID:         hex.EncodeToString(id[:]),
		Encoding:   enc,
		Recipients: recipients,
		Chunking:   DefaultChunking,
		PackSize:   DefaultPackSize,
		Created:    time.Now().UTC().Truncate(time.Second),
	}, nil
}

// ParseConfig decodes and validates a repository's config object.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return c, err
	}
	if c.Version != FormatVersion {
		return c, fmt.Errorf("unsupported repository version %d (this pocketsnap reads version %d)", c.Version, FormatVersion)
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
