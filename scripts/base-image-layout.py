"""Writes the OCI image layout of scripts/build-base-image.sh from its layer tars.

Usage: base-image-layout.py OCI_DIR LAYERS_DIR CREATED

LAYERS_DIR holds amd64-layer1.tar, amd64-layer2.tar, arm64-layer1.tar and
arm64-layer2.tar (uncompressed; their sha256 are the diff_ids). Each is
gzip-compressed into a blob (mtime 0, no name: the same tar gives the same
blob), then one config and one image manifest per platform, one image index
listing both with their platform (OCI image-spec image-index.md), and
index.json naming that index "base" and each manifest "base-ARCH"
(org.opencontainers.image.ref.name, image-layout.md). JSON is written
compact, keys in a fixed order: the same layers give the same digests.
Standard library only (the host's /usr/bin/python3, no pip).
"""
import gzip
import hashlib
import json
import os
import sys

INDEX = 'application/vnd.oci.image.index.v1+json'
MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
CONFIG = 'application/vnd.oci.image.config.v1+json'
LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip'
REF = 'org.opencontainers.image.ref.name'

# arm64 images say variant v8, as Docker Hub's official images do (the
# platform a runtime on an arm64 machine asks for: linux/arm64/v8).
PLATFORMS = [
    {'architecture': 'amd64', 'os': 'linux'},
    {'architecture': 'arm64', 'os': 'linux', 'variant': 'v8'},
]


def main(oci, layers, created):
    blobs = os.path.join(oci, 'blobs', 'sha256')
    os.makedirs(blobs, exist_ok=True)

    def put(data, media_type):
        digest = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, digest), 'wb') as f:
            f.write(data)
        return {'mediaType': media_type, 'digest': 'sha256:' + digest, 'size': len(data)}

    def put_json(obj, media_type):
        return put(json.dumps(obj, separators=(',', ':'), ensure_ascii=False).encode(), media_type)

    def put_layer(tar_path):
        """Gzips tar_path into a blob; returns its descriptor and diff_id."""
        diff = hashlib.sha256()
        tmp = os.path.join(blobs, '.partial')
        with open(tar_path, 'rb') as src, open(tmp, 'wb') as raw:
            with gzip.GzipFile(filename='', mode='wb', fileobj=raw, mtime=0, compresslevel=6) as gz:
                while chunk := src.read(1 << 20):
                    diff.update(chunk)
                    gz.write(chunk)
        digest = hashlib.sha256()
        with open(tmp, 'rb') as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        hexdigest = digest.hexdigest()
        os.replace(tmp, os.path.join(blobs, hexdigest))
        desc = {'mediaType': LAYER, 'digest': 'sha256:' + hexdigest, 'size': os.path.getsize(os.path.join(blobs, hexdigest))}
        return desc, 'sha256:' + diff.hexdigest()

    manifests = []
    for platform in PLATFORMS:
        arch = platform['architecture']
        l1, d1 = put_layer(os.path.join(layers, f'{arch}-layer1.tar'))
        l2, d2 = put_layer(os.path.join(layers, f'{arch}-layer2.tar'))
        config = {
            'created': created,
            'architecture': arch,
            'os': 'linux',
            **({'variant': platform['variant']} if 'variant' in platform else {}),
            'config': {
                'User': 'www-data',
                'ExposedPorts': {'8080/tcp': {}},
                'Env': [
                    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
                    'LANG=C.UTF-8',
                    'APP_MODE=base',
                ],
                'Entrypoint': ['/usr/bin/python3'],
                'Cmd': ['-c', "print('hello from base')"],
                'Volumes': {'/data': {}},
                'WorkingDir': '/srv/www',
                'Labels': {
                    'org.opencontainers.image.title': 'elfdeps test base',
                    'com.example.elfdeps.fixture': 'base-image',
                },
                'StopSignal': 'SIGINT',
            },
            'rootfs': {'type': 'layers', 'diff_ids': [d1, d2]},
            'history': [
                {'created': created, 'created_by': 'scripts/build-base-image.sh: Debian 12 packages (bash coreutils dash python3 curl perl base-passwd passwd and their dependencies)', 'comment': 'layer 1'},
                {'created': created, 'created_by': 'scripts/build-base-image.sh: whiteouts of /usr/bin/tac, libsemanage.so.2 and /usr/lib/python3.11/concurrent; opaque /opt/app; /srv/www and /data owned by www-data', 'comment': 'layer 2'},
            ],
        }
        cfg = put_json(config, CONFIG)
        manifest = put_json({'schemaVersion': 2, 'mediaType': MANIFEST, 'config': cfg, 'layers': [l1, l2]}, MANIFEST)
        manifests.append({**manifest, 'platform': platform})

    index = put_json({'schemaVersion': 2, 'mediaType': INDEX, 'manifests': manifests}, INDEX)
    top = {
        'schemaVersion': 2,
        'mediaType': INDEX,
        'manifests': [
            {**index, 'annotations': {REF: 'base'}},
            *({**m, 'annotations': {REF: 'base-' + m['platform']['architecture']}} for m in manifests),
        ],
    }
    with open(os.path.join(oci, 'index.json'), 'w') as f:
        json.dump(top, f, separators=(',', ':'))
    with open(os.path.join(oci, 'oci-layout'), 'w') as f:
        json.dump({'imageLayoutVersion': '1.0.0'}, f, separators=(',', ':'))


if __name__ == '__main__':
    if len(sys.argv) != 4:
        sys.exit('usage: base-image-layout.py OCI_DIR LAYERS_DIR CREATED')
    main(*sys.argv[1:])
