package config

import (
	"fmt"
	"net/http"

	"github.com/pocketsnap/pocketsnap/heartbeat"
	"github.com/pocketsnap/pocketsnap/netconf"
)

// Heartbeat returns the pinger of BACKUP_DAEMON_HC_URL; nil when it is
// unset. It resolves and trusts as the push does (S3_DNS_SERVERS, Termux's
// resolv.conf and certificates): on Android, without /etc/resolv.conf,
// Go's own lookups fail (issue 21.6). A bad URL is an error naming the key
// and where it was set, never the URL's secret.
func (c *Config) Heartbeat() (*heartbeat.Pinger, error) {
	u := c.Value("BACKUP_DAEMON_HC_URL")
	if u == "" {
		return nil, nil
	}
	hb, err := heartbeat.New(u)
	if err != nil {
		return nil, fmt.Errorf("BACKUP_DAEMON_HC_URL (%s): %w", c.Source("BACKUP_DAEMON_HC_URL"), err)
	}
	tr, err := netconf.FromEnv(c.Value("S3_DNS_SERVERS")).Transport("")
	if err != nil {
		return nil, fmt.Errorf("BACKUP_DAEMON_HC_URL: %w", err)
	}
	hb.Client = &http.Client{Transport: tr}
	return hb, nil
}
