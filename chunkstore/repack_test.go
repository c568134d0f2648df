package chunkstore

import (
	"bytes"
	"context"
	"testing"
)

func TestRepack(t *testing.T) {
	s := gcStore(t)
	data := writePack(t, s, ClassBody, 1, 2, 3, 4)
	meta := writePack(t, s, ClassMeta, 5, 6, 7)
	both := writePack(t, s, ClassBody, 8, 1) // 1 survives in this pack
	live := setOf(data[0], data[1], meta[0], both[0])
	u, err := s.Usage(live)
	if err != nil {
		t.Fatal(err)
	}
	old := u.PartlyDead(0.3)
	if len(old) != 2 {
		t.Fatalf("partly dead: %+v", old)
	}
	class := func(id ID) Class {
		if id == meta[0] {
			return ClassMeta
		}
		return ClassBody
	}
	st, err := s.Repack(context.Background(), []ID{old[0].ID, old[1].ID}, live, class)
	if err != nil {
		t.Fatal(err)
	}
	// Blob 1 is in pack "both", which stays: only 2 and 5 are copied, each
	// into the pack of its class.
	if st.Packs != 2 || st.Written.Blobs != 2 || st.Written.Packs != 2 {
		t.Errorf("stats %+v", st)
	}
	if s.HasPack(old[0].ID) || s.HasPack(old[1].ID) {
		t.Error("old packs remain")
	}
	u, err = s.Usage(live)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range u.Packs {
		if p.DeadShare() > 0.5 && p.LiveBlobs > 0 && p.ID != both[0] {
			ix, _ := s.Index()
			t.Errorf("pack %s still %.0f%% dead (%+v)", p.ID.Short(), 100*p.DeadShare(), ix.Packs())
		}
	}
	s2, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	s2.SetIdentities(s.codec.identities)
	for id, n := range map[ID]int{data[0]: 1, data[1]: 2, meta[0]: 5, both[0]: 8} {
		if got, err := s2.ReadBlob(id, nil); err != nil || !bytes.Equal(got, blob(n)) {
			t.Errorf("blob %d after repack: %v", n, err)
		}
	}
	ix, _ := s2.Index()
	for _, dead := range []ID{data[2], data[3], meta[1], meta[2]} {
		if ix.Has(dead) {
			t.Errorf("dead blob %s still indexed", dead.Short())
		}
	}
}

func TestRepackNeedsIdentity(t *testing.T) {
	s := gcStore(t)
	ids := writePack(t, s, ClassBody, 1, 2)
	ix, _ := s.Index()
	pack := ix.Packs()[0].ID
	s2, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.Repack(context.Background(), []ID{pack}, setOf(ids[0]), func(ID) Class { return ClassBody }); err == nil {
		t.Fatal("repack without the identity succeeded")
	}
	if !s2.HasPack(pack) {
		t.Fatal("a failed repack dropped the pack")
	}
}
