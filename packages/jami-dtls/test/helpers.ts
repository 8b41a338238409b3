import { certifyDevice, createAccountKeys, PrivateKey, type AccountKeys, type DeviceIdentity } from "jami-identity";
import { IceTcpAgent, type IceConnection } from "jami-ice";

export const BITS = 2048;

export async function newDevice(account?: AccountKeys, now?: Date): Promise<{ account: AccountKeys; device: DeviceIdentity }> {
  const keys = account ?? (await createAccountKeys({ bits: BITS }));
  return { account: keys, device: certifyDevice(keys, await PrivateKey.generate(BITS), now) };
}

/** Two ICE-TCP endpoints on 127.0.0.1: [controlled (TLS server in Jami), controlling (TLS client)]. */
export async function icePair(): Promise<[IceConnection, IceConnection]> {
  const [a, b] = await Promise.all([IceTcpAgent.create({ addresses: ["127.0.0.1"], controlling: false }), IceTcpAgent.create({ addresses: ["127.0.0.1"], controlling: true })]);
  return Promise.all([a.connect(b.local), b.connect(a.local)]);
}
