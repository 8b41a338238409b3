import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { AlertDescription, DtlsAlert } from "./alert.js";
import { CIPHER_SUITES, EMPTY_RENEGOTIATION_INFO_SCSV, GROUPS, newKeyShare, pick, SIGNATURE_SCHEMES, signWith, verifyWith } from "./crypto.js";
import { HandshakeType } from "./handshake-codec.js";
import { HandshakeState, type Negotiated } from "./handshake.js";
import {
  decodeCertificates,
  decodeClientHello,
  decodeClientKeyExchange,
  decodeSigned,
  decodeU16List,
  EMPTY_RENEGOTIATION_INFO,
  encodeCertificateRequest,
  encodeCertificates,
  encodeClientHello,
  encodeEcdhParams,
  encodeHelloVerifyRequest,
  encodeServerHello,
  encodeServerKeyExchange,
  ExtensionType,
  UNCOMPRESSED_POINTS,
  type ClientHello,
  type Extensions,
} from "./messages.js";
import { DTLS_1_0, DTLS_1_2 } from "./record.js";
import type { Credentials, HandshakeIO } from "./session.js";

/** A ClientHello larger than this is not read before the cookie exchange (GnuTLS's are about 300 bytes). */
const MAX_CLIENT_HELLO = 2048;

/** The cookie binds the ClientHello's parameters (RFC 6347 §4.2.1); the secret lives as long as the session. */
function cookieFor(secret: Uint8Array, hello: ClientHello): Uint8Array {
  const withoutCookie = encodeClientHello({ ...hello, cookie: new Uint8Array(0) });
  return new Uint8Array(createHmac("sha256", secret).update(withoutCookie).digest());
}

/** The server's side: cookie exchange, then a full handshake requiring the client's certificate. */
export async function serverHandshake(io: HandshakeIO, credentials: Credentials): Promise<Negotiated> {
  const hs = new HandshakeState(io);
  const cookieSecret = new Uint8Array(randomBytes(32));
  // Until the client proves its address with the cookie, it gets no state beyond a small ClientHello.
  io.limitIncoming({ types: [HandshakeType.client_hello], maxLength: MAX_CLIENT_HELLO });
  let hello: ClientHello;
  for (;;) {
    const message = await io.next();
    if (message.type !== HandshakeType.client_hello) throw new DtlsAlert(AlertDescription.unexpected_message, "expected ClientHello");
    hello = decodeClientHello(message.body);
    const cookie = cookieFor(cookieSecret, hello);
    if (hello.cookie.length === cookie.length && timingSafeEqual(hello.cookie, cookie)) {
      hs.restart(message.seq);
      hs.record(message);
      io.limitIncoming(undefined);
      break;
    }
    // Stateless: a HelloVerifyRequest is never retransmitted by timer, only when the ClientHello comes again.
    io.sendFlight(
      [{ message: { type: HandshakeType.hello_verify_request, seq: message.seq, body: encodeHelloVerifyRequest(DTLS_1_0, cookie) }, epoch: 0 }],
      false,
    );
  }

  // DTLS versions count down: 0xfefd (1.2) is newer than 0xfeff (1.0).
  if (hello.version > DTLS_1_2) throw new DtlsAlert(AlertDescription.protocol_version, "the client does not offer DTLS 1.2");
  if (!hello.compressionMethods.includes(0)) throw new DtlsAlert(AlertDescription.illegal_parameter, "the client does not offer null compression");
  const renegotiation = hello.extensions.get(ExtensionType.renegotiation_info);
  const secureRenegotiation = renegotiation ? renegotiation.length === 1 && renegotiation[0] === 0 : hello.cipherSuites.includes(EMPTY_RENEGOTIATION_INFO_SCSV);
  if (!secureRenegotiation) throw new DtlsAlert(AlertDescription.handshake_failure, "the client does not support secure renegotiation (RFC 5746)");
  const suite = pick(CIPHER_SUITES, hello.cipherSuites);
  if (!suite) throw new DtlsAlert(AlertDescription.insufficient_security, "no ECDHE AES-GCM suite in common");
  const groupList = hello.extensions.get(ExtensionType.supported_groups);
  const group = groupList ? pick(GROUPS, decodeU16List(groupList)) : GROUPS[0];
  if (!group) throw new DtlsAlert(AlertDescription.handshake_failure, "no ECDHE group in common");
  const pointFormats = hello.extensions.get(ExtensionType.ec_point_formats);
  if (pointFormats && !pointFormats.subarray(1).includes(0))
    throw new DtlsAlert(AlertDescription.illegal_parameter, "the client does not accept uncompressed points");
  const schemeList = hello.extensions.get(ExtensionType.signature_algorithms);
  const signatureScheme = schemeList ? pick(SIGNATURE_SCHEMES, decodeU16List(schemeList)) : undefined;
  if (!signatureScheme) throw new DtlsAlert(AlertDescription.handshake_failure, "no RSA signature scheme in common (SHA-1 is not accepted)");
  // Required (RFC 7627): GnuTLS always negotiates it, and without it a man in the middle can synchronise two sessions.
  if (!hello.extensions.has(ExtensionType.extended_master_secret))
    throw new DtlsAlert(AlertDescription.handshake_failure, "the client does not offer the extended master secret (RFC 7627)");

  const serverRandom = new Uint8Array(randomBytes(32));
  const extensions: Extensions = new Map([[ExtensionType.renegotiation_info, EMPTY_RENEGOTIATION_INFO]]);
  extensions.set(ExtensionType.extended_master_secret, new Uint8Array(0));
  if (pointFormats) extensions.set(ExtensionType.ec_point_formats, UNCOMPRESSED_POINTS);
  const share = newKeyShare(group);
  const params = encodeEcdhParams(group.id, share.publicKey);
  const signature = signWith(signatureScheme, credentials.privateKey, Buffer.concat([hello.random, serverRandom, params]));
  io.sendFlight(
    [
      hs.message(
        HandshakeType.server_hello,
        encodeServerHello({ version: DTLS_1_2, random: serverRandom, sessionId: new Uint8Array(0), cipherSuite: suite.id, compressionMethod: 0, extensions }),
      ),
      hs.message(HandshakeType.certificate, encodeCertificates(credentials.chain)),
      hs.message(HandshakeType.server_key_exchange, encodeServerKeyExchange(params, signatureScheme.id, signature)),
      hs.message(HandshakeType.certificate_request, encodeCertificateRequest(SIGNATURE_SCHEMES.map((s) => s.id))),
      hs.message(HandshakeType.server_hello_done, new Uint8Array(0)),
    ].map((message) => ({ message, epoch: 0 })),
    true,
  );

  const peerChain = decodeCertificates((await hs.expect(HandshakeType.certificate)).body);
  const clientKey = await credentials.checkPeer(peerChain);
  const preMaster = share.agree(decodeClientKeyExchange((await hs.expect(HandshakeType.client_key_exchange)).body));
  hs.deriveMaster(suite, preMaster);
  const signed = hs.bytes();
  const verify = decodeSigned((await hs.expect(HandshakeType.certificate_verify)).body);
  const clientScheme = SIGNATURE_SCHEMES.find((s) => s.id === verify.scheme);
  if (!clientScheme) throw new DtlsAlert(AlertDescription.illegal_parameter, "the client signed with a scheme we did not ask for");
  if (!verifyWith(clientScheme, clientKey, signed, verify.signature))
    throw new DtlsAlert(AlertDescription.decrypt_error, "the client's CertificateVerify does not verify");

  const { client, server } = hs.ciphers(suite, hello.random, serverRandom);
  io.expectChangeCipherSpec(client);
  await hs.expectFinished(suite, "client finished");
  io.installWriter(server);
  const finished = hs.message(HandshakeType.finished, hs.finished(suite, "server finished"));
  io.sendFlight(
    [
      { changeCipherSpec: true, epoch: 0 },
      { message: finished, epoch: 1 },
    ],
    false,
  );
  return { suite, group, signatureScheme, extendedMasterSecret: true, peerChain };
}
