/** This package's version (a test keeps it equal to package.json's): our SIP `User-Agent` says it. */
export const SDK_VERSION = "0.1.0";

/** What our SIP requests carry as `User-Agent`, in the form of jamid's ("Jami Daemon 13.7.0 (linux)"). */
export const USER_AGENT = `jami-ts ${SDK_VERSION} (${typeof process !== "undefined" ? process.platform : "unknown"})`;
