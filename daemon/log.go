package daemon

import (
	"io"
	"log/slog"
	"time"
)

// NewLogger returns the daemon's log: one event per line to w, with a UTC
// timestamp (RFC 3339, to the second), as key=value text for people and
// grep or, with json, as JSON objects. quiet logs only warnings and
// errors.
func NewLogger(w io.Writer, json, quiet bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			a.Value = slog.StringValue(a.Value.Time().UTC().Format(time.RFC3339))
		}
		return a
	}}
	if quiet {
		opts.Level = slog.LevelWarn
	}
	if json {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
