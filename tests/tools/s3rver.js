'use strict';
// Starts s3rver (a fake S3 server) on loopback for the tests: node s3rver.js <directory> <access key> <secret key>.
// Port 0 lets the system choose; the line "listening on <port>" tells the test which one it got.
// s3rver knows one built-in key pair; the tests' own is registered so that MinIO-style credentials work and any other
// access key is refused (InvalidAccessKeyId). s3rver does not verify SigV4 signatures, so a wrong secret passes.
const S3rver = require('s3rver');
const AWSAccount = require('s3rver/lib/models/account');

const [directory, accessKey, secretKey] = process.argv.slice(2);
if (!directory || !accessKey || !secretKey) {
  console.error('usage: node s3rver.js <directory> <access key> <secret key>');
  process.exit(2);
}

AWSAccount.DUMMY_ACCOUNT.revokeAccessKey('S3RVER');
AWSAccount.DUMMY_ACCOUNT.createKeyPair(accessKey, secretKey);
new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, vhostBuckets: false })
  .run()
  .then(({ port }) => console.log(`listening on ${port}`))
  .catch(err => {
    console.error(err);
    process.exit(1);
  });
// The test process closes stdin when it goes away, even when killed: stop with it.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
