// Create a Jami account, reload it, move it to a second device through its
// archive, and check device chains — what jamid does with its accounts.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAccount, exportAccount, importAccount, loadAccount, verifyDeviceChain } from "jami-identity";

async function main() {
  const root = mkdtempSync(join(tmpdir(), "jami-example-"));

  // RSA-4096 CA, account and device keys; an archive encrypted like jamid's
  const phone = await createAccount({ dir: join(root, "phone"), password: "correct horse", displayName: "Alice" });
  console.log("Jami ID:", phone.jamiId.toString());
  console.log("device: ", phone.deviceId.toString());

  // everything needed to run the device is on disk
  const again = await loadAccount({ dir: phone.dir });
  console.log("reloaded:", again.deviceId.equals(phone.deviceId));

  // the archive moves the account; the new device gets its own key and certificate
  const archive = await exportAccount({ dir: phone.dir, password: "correct horse" });
  const laptop = await importAccount({ archive, dir: join(root, "laptop"), password: "correct horse" });
  console.log("laptop: ", laptop.deviceId.toString(), "same account:", laptop.jamiId.equals(phone.jamiId));

  // what a peer checks before trusting a device
  const verified = verifyDeviceChain([laptop.device.certificate, ...laptop.device.issuers], {
    expectedJamiId: phone.jamiId,
  });
  console.log("verified device of", verified.jamiId.toString());
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
