import { randomBytes } from "node:crypto";
import { AlertDescription, DtlsAlert } from "./alert.js";
import { CIPHER_SUITES, GROUPS, newKeyShare, pick, SIGNATURE_SCHEMES, signWith, verifyWith } from "./crypto.js";
import { HandshakeType } from "./handshake-codec.js";
import { HandshakeState, type Negotiated } from "./handshake.js";
import {
  decodeCertificateRequest,
  decodeCertificates,
  decodeHelloVerifyRequest,
  decodeServerHello,
  decodeServerKeyExchange,
  EMPTY_RENEGOTIATION_INFO,
  encodeCertificates,
  encodeClientHello,
  encodeClientKeyExchange,
  encodeSigned,
  encodeU16List,
  ExtensionType,
  UNCOMPRESSED_POINTS,
  type Extensions,
} from "./messages.js";
import { DTLS_1_2 } from "./record.js";
import type { Credentials, HandshakeIO } from "./session.js";

const MAX_HELLO_VERIFY = 3;

/** The client's side of a full DTLS 1.2 handshake with certificates (RFC 6347 §4.2, RFC 5246 §7.3). */
export async function clientHandshake(io: HandshakeIO, credentials: Credentials): Promise<Negotiated> {
  const hs = new HandshakeState(io);
  const clientRandom = new Uint8Array(randomBytes(32));
  const extensions: Extensions = new Map([
    [ExtensionType.supported_groups, encodeU16List(GROUPS.map((g) => g.id))],
    [ExtensionType.ec_point_formats, UNCOMPRESSED_POINTS],
    [ExtensionType.signature_algorithms, encodeU16List(SIGNATURE_SCHEMES.map((s) => s.id))],
    [ExtensionType.extended_master_secret, new Uint8Array(0)],
    [ExtensionType.renegotiation_info, EMPTY_RENEGOTIATION_INFO],
  ]);
  const hello = (cookie: Uint8Array): Uint8Array =>
    encodeClientHello({
      version: DTLS_1_2,
      random: clientRandom,
      sessionId: new Uint8Array(0),
      cookie,
      cipherSuites: CIPHER_SUITES.map((s) => s.id),
      compressionMethods: Uint8Array.of(0),
      extensions,
    });

  io.sendFlight([{ message: hs.message(HandshakeType.client_hello, hello(new Uint8Array(0))), epoch: 0 }], true);
  let reply = await io.next();
  // The stateless cookie exchange: neither the first ClientHello nor the HelloVerifyRequest is in the transcript.
  for (let n = 0; reply.type === HandshakeType.hello_verify_request; n++) {
    if (n === MAX_HELLO_VERIFY) throw new DtlsAlert(AlertDescription.unexpected_message, "too many HelloVerifyRequests");
    const { cookie } = decodeHelloVerifyRequest(reply.body);
    hs.restart(reply.seq + 1);
    io.sendFlight([{ message: hs.message(HandshakeType.client_hello, hello(cookie)), epoch: 0 }], true);
    reply = await io.next();
  }
  if (reply.type !== HandshakeType.server_hello) throw new DtlsAlert(AlertDescription.unexpected_message, "expected ServerHello");
  hs.record(reply);
  const serverHello = decodeServerHello(reply.body);
  if (serverHello.version !== DTLS_1_2) throw new DtlsAlert(AlertDescription.protocol_version, "the server does not speak DTLS 1.2");
  const suite = CIPHER_SUITES.find((s) => s.id === serverHello.cipherSuite);
  if (!suite || serverHello.compressionMethod !== 0) throw new DtlsAlert(AlertDescription.illegal_parameter, "the server chose a suite we did not offer");
  for (const type of serverHello.extensions.keys()) {
    if (!extensions.has(type)) throw new DtlsAlert(AlertDescription.unsupported_extension, `the server answered extension ${type}, not offered`);
  }
  const renegotiation = serverHello.extensions.get(ExtensionType.renegotiation_info);
  if (!renegotiation || renegotiation.length !== 1 || renegotiation[0] !== 0) {
    throw new DtlsAlert(AlertDescription.handshake_failure, "the server does not support secure renegotiation (RFC 5746)");
  }
  // Required (RFC 7627), as by our server: a session without it could be synchronised with another one.
  if (!serverHello.extensions.has(ExtensionType.extended_master_secret))
    throw new DtlsAlert(AlertDescription.handshake_failure, "the server does not use the extended master secret (RFC 7627)");

  const peerChain = decodeCertificates((await hs.expect(HandshakeType.certificate)).body);
  const serverKey = await credentials.checkPeer(peerChain);

  const keyExchange = decodeServerKeyExchange((await hs.expect(HandshakeType.server_key_exchange)).body);
  const group = GROUPS.find((g) => g.id === keyExchange.group);
  const signatureScheme = SIGNATURE_SCHEMES.find((s) => s.id === keyExchange.scheme);
  if (!group || !signatureScheme)
    throw new DtlsAlert(AlertDescription.illegal_parameter, "the server's key exchange uses a group or signature we did not offer");
  const signed = Buffer.concat([clientRandom, serverHello.random, keyExchange.params]);
  if (!verifyWith(signatureScheme, serverKey, signed, keyExchange.signature))
    throw new DtlsAlert(AlertDescription.decrypt_error, "the server's key exchange signature does not verify");

  let next = await io.next();
  hs.record(next);
  let certificateScheme: (typeof SIGNATURE_SCHEMES)[number] | undefined;
  const certificateRequested = next.type === HandshakeType.certificate_request;
  if (certificateRequested) {
    certificateScheme = pick(SIGNATURE_SCHEMES, decodeCertificateRequest(next.body).schemes);
    if (!certificateScheme) throw new DtlsAlert(AlertDescription.handshake_failure, "no signature scheme in common for our certificate");
    next = await io.next();
    hs.record(next);
  }
  if (next.type !== HandshakeType.server_hello_done || next.body.length) throw new DtlsAlert(AlertDescription.unexpected_message, "expected ServerHelloDone");

  const share = newKeyShare(group);
  const preMaster = share.agree(keyExchange.publicKey);
  const flight = [];
  if (certificateRequested) flight.push({ message: hs.message(HandshakeType.certificate, encodeCertificates(credentials.chain)), epoch: 0 });
  flight.push({ message: hs.message(HandshakeType.client_key_exchange, encodeClientKeyExchange(share.publicKey)), epoch: 0 });
  hs.deriveMaster(suite, preMaster);
  if (certificateScheme) {
    const signature = signWith(certificateScheme, credentials.privateKey, hs.bytes());
    flight.push({ message: hs.message(HandshakeType.certificate_verify, encodeSigned(certificateScheme.id, signature)), epoch: 0 });
  }
  const { client, server } = hs.ciphers(suite, clientRandom, serverHello.random);
  io.installWriter(client);
  io.expectChangeCipherSpec(server);
  const finished = hs.message(HandshakeType.finished, hs.finished(suite, "client finished"));
  io.sendFlight([...flight, { changeCipherSpec: true, epoch: 0 }, { message: finished, epoch: 1 }], true);
  await hs.expectFinished(suite, "server finished");
  return { suite, group, signatureScheme, extendedMasterSecret: true, peerChain };
}
