#!/usr/bin/env python3
"""How much a learned blend could gain over the plain 50/50 blend of two flow warps, and what
simple cues give: the 60 held-out triplets, DIS with fregan's "fine" settings, bilinear warps.
Rows: the plain blend; blends weighted by forward-backward consistency (occ k) or by photometric
error (photo bB kK); flow reversal (forward splatting) for the flows to t; and an oracle mask that
picks the better warp per pixel using the ground truth (an upper bound no model can reach).

Needs OpenCV's Python module for DIS (Debian: python3-opencv; not a fregan dependency) and
Debian's python3 with the fregan build on PYTHONPATH:

    PYTHONPATH=build/dev/pkg /usr/bin/python3 benchmarks/python/blend_headroom.py
"""
import sys
from pathlib import Path

try:
    import cv2
except ImportError:
    sys.exit("blend_headroom.py needs OpenCV's Python module (apt-get install python3-opencv)")
import numpy as np
import torch
import torch.nn.functional as F

import fregan

D = str(Path(__file__).resolve().parents[3] / "shared" / "data")
ds = fregan.data.TripletDataset([f"{D}/videos/foreman_h264.mp4", f"{D}/triplets/vimeo90k"])
def dis():
    d=cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    d.setFinestScale(0); d.setPatchSize(8); d.setPatchStride(4); d.setGradientDescentIterations(12); d.setVariationalRefinementIterations(0)
    return d
d=dis()
def luma(x): return np.round(x[...,0]*0.299+x[...,1]*0.587+x[...,2]*0.114).clip(0,255).astype(np.uint8)
def warp(img, flow):
    # img [1,C,H,W], flow [1,2,H,W]
    _,_,h,w=img.shape
    ys,xs=torch.meshgrid(torch.arange(h,dtype=torch.float32),torch.arange(w,dtype=torch.float32),indexing="ij")
    gx=(xs+flow[0,0]).clamp(0,w-1)/(w-1)*2-1; gy=(ys+flow[0,1]).clamp(0,h-1)/(h-1)*2-1
    return F.grid_sample(img, torch.stack([gx,gy],-1)[None], mode="bilinear", padding_mode="border", align_corners=True)
def psnr(a,b):
    a=(a.clamp(0,1)*255).round(); b=b*255
    mse=((a-b)**2).mean().item(); return 10*np.log10(255**2/mse)
def splat_flow(f01, t):
    # forward-splat -t*F01 from x to x+t*F01 (bilinear splat), returns flow t->0 and weight
    _,_,h,w=f01.shape
    ys,xs=torch.meshgrid(torch.arange(h,dtype=torch.float32),torch.arange(w,dtype=torch.float32),indexing="ij")
    tx=xs+t*f01[0,0]; ty=ys+t*f01[0,1]
    x0=tx.floor(); y0=ty.floor()
    acc=torch.zeros(3,h*w)
    vals=torch.stack([-t*f01[0,0], -t*f01[0,1], torch.ones_like(tx)]).reshape(3,-1)
    for dx in (0,1):
        for dy in (0,1):
            xi=x0+dx; yi=y0+dy
            wgt=(1-(tx-xi).abs())*(1-(ty-yi).abs())
            ok=((xi>=0)&(xi<w)&(yi>=0)&(yi<h)&(wgt>0)).reshape(-1)
            idx=(yi.clamp(0,h-1)*w+xi.clamp(0,w-1)).long().reshape(-1)
            ww=(wgt.reshape(-1)*ok)
            acc.index_add_(1, idx, vals*ww)
    wsum=acc[2].reshape(h,w); fl=acc[:2].reshape(2,h,w)/wsum.clamp(min=1e-6)
    return fl[None], wsum
res={}
n=0
for i in range(len(ds)):
    f0,f1,f2=ds[i]
    g0,g2=luma(f0),luma(f2)
    a=torch.from_numpy(f0).permute(2,0,1)[None].float()/255; b=torch.from_numpy(f2).permute(2,0,1)[None].float()/255; gt=torch.from_numpy(f1).permute(2,0,1)[None].float()/255
    f02=torch.from_numpy(d.calc(g0,g2,None)).permute(2,0,1)[None]; f20=torch.from_numpy(d.calc(g2,g0,None)).permute(2,0,1)[None]
    t=0.5
    ft0=-(1-t)*t*f02+t*t*f20; ft2=(1-t)**2*f02-t*(1-t)*f20
    w0=warp(a,ft0); w2=warp(b,ft2)
    out={}
    out['linear']=(1-t)*w0+t*w2
    # occlusion cues
    c0=(f02+warp(f20,f02)).norm(dim=1,keepdim=True); c2=(f20+warp(f02,f20)).norm(dim=1,keepdim=True)
    o0=warp(c0,ft0); o2=warp(c2,ft2)
    for k in (0.5,1,2):
        e0=(1-t)*torch.exp(-k*o0); e2=t*torch.exp(-k*o2)
        out[f'occ{k}']=(e0*w0+e2*w2)/(e0+e2+1e-8)
    # photometric error of each flow at its source frame, carried to t
    e0=(a-warp(b,f02)).abs().mean(1,keepdim=True); e2=(b-warp(a,f20)).abs().mean(1,keepdim=True)
    for bl in (1,5):
        for k in (10,30,100):
            p0=warp(F.avg_pool2d(e0,bl,1,bl//2,count_include_pad=False) if bl>1 else e0,ft0)
            p2=warp(F.avg_pool2d(e2,bl,1,bl//2,count_include_pad=False) if bl>1 else e2,ft2)
            x0=torch.exp(-k*p0); x2=torch.exp(-k*p2)
            out[f'photo b{bl} k{k}']=(x0*w0+x2*w2)/(x0+x2+1e-8)
    # flow reversal
    r0,ws0=splat_flow(f02,t)   # flow t->0 from splatting F02: F_t0 = -t F02
    r2,ws2=splat_flow(f20,1-t) # flow t->2 = -(1-t) F20
    hole0=(ws0<0.5)[None,None]; hole2=(ws2<0.5)[None,None]
    fr0=torch.where(hole0, ft0, r0); fr2=torch.where(hole2, ft2, r2)
    v0=warp(a,fr0); v2=warp(b,fr2)
    out['reversal']=(1-t)*v0+t*v2
    # oracle per-pixel choice
    e0=(w0-gt).abs().sum(1,keepdim=True); e2=(w2-gt).abs().sum(1,keepdim=True)
    out['oracle_mask']=torch.where(e0<e2,w0,w2)
    for k,v in out.items(): res.setdefault(k,[]).append(psnr(v,gt))
    n+=1
for k,v in res.items(): print(f"{k:16s} {np.mean(v):.3f}")
