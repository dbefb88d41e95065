package zmtp

import "golang.org/x/crypto/curve25519"

func boxPublic(pub, secret *[32]byte) {
	curve25519.ScalarBaseMult(pub, secret)
}
