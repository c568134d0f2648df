//go:build linux

package miniotest

import (
	"strings"
	"testing"

	"github.com/minio/madmin-go/v3"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// NewUser creates a user of the server whose only permissions are those
// of the IAM policy document, through MinIO's admin API (MinIO's own
// admin client), and returns its access and secret keys.
func (s *Server) NewUser(t testing.TB, policy string) (accessKey, secretKey string) {
	t.Helper()
	tr := s.transport()
	t.Cleanup(tr.CloseIdleConnections)
	adm, err := madmin.NewWithOptions(s.Host, &madmin.Options{
		Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Secure: true, Transport: tr,
	})
	if err != nil {
		t.Fatalf("failed to create a MinIO admin client for %s: %v", s.Host, err)
	}
	accessKey = "user" + strings.ToLower(randomText(12))
	secretKey = randomText(32)
	name := "policy-" + accessKey
	if err := adm.AddCannedPolicy(t.Context(), name, []byte(policy)); err != nil {
		t.Fatalf("failed to add the policy %s: %v", name, err)
	}
	if err := adm.AddUser(t.Context(), accessKey, secretKey); err != nil {
		t.Fatalf("failed to add the user %s: %v", accessKey, err)
	}
	if _, err := adm.AttachPolicy(t.Context(), madmin.PolicyAssociationReq{Policies: []string{name}, User: accessKey}); err != nil {
		t.Fatalf("failed to attach the policy %s to %s: %v", name, accessKey, err)
	}
	return accessKey, secretKey
}
