/** Usage lines of `longhaul certs …` (own file: cli.ts shows them without loading the certs code). */
export const CERTS_USAGE = `  certs init --dns NAME [--dns NAME…] [--ip ADDR…] [--out DIR] [--key-type rsa|ec] [--days N] [--force]
                          branch CA + gateway certificate + Java truststore (DIR default certs/)
  certs renew [--out DIR] [--dns NAME…] [--ip ADDR…] [--key-type rsa|ec] [--days N]
                          new gateway certificate and key from the existing CA
  certs inspect FILE [--password P | --password-file F]
                          subject, SANs, issuer, validity, fingerprint of a PEM or PKCS#12 file
`;
