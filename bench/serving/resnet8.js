// ResNet-8 for 32×32×3 inputs, for blasnet: the same network as
// bench/serving/resnet8.py (PyTorch), so a checkpoint it exports loads here by
// state-dict key. `resnet8(blasnet)` returns a fresh model.
'use strict';

module.exports = function resnet8(b) {
  const { nn } = b;
  const F = nn.functional;
  class Block extends nn.Module {
    constructor(i, o, s) {
      super();
      this.conv1 = new nn.Conv2d(i, o, 3, { stride: s, padding: 1, bias: false });
      this.bn1 = new nn.BatchNorm2d(o);
      this.conv2 = new nn.Conv2d(o, o, 3, { padding: 1, bias: false });
      this.bn2 = new nn.BatchNorm2d(o);
      this.down = s !== 1 || i !== o ? new nn.Sequential(new nn.Conv2d(i, o, 1, { stride: s, bias: false }), new nn.BatchNorm2d(o)) : null;
    }
    forward(x) {
      const idt = this.down ? this.down.forward(x) : x;
      const y = F.relu(this.bn1.forward(this.conv1.forward(x)));
      return F.relu(this.bn2.forward(this.conv2.forward(y)).add(idt));
    }
  }
  class ResNet8 extends nn.Module {
    constructor() {
      super();
      this.stem = new nn.Conv2d(3, 16, 3, { padding: 1, bias: false });
      this.bn = new nn.BatchNorm2d(16);
      this.layer1 = new Block(16, 16, 1);
      this.layer2 = new Block(16, 32, 2);
      this.layer3 = new Block(32, 64, 2);
      this.fc = new nn.Linear(64, 10);
    }
    forward(x) {
      x = F.relu(this.bn.forward(this.stem.forward(x)));
      x = this.layer3.forward(this.layer2.forward(this.layer1.forward(x)));
      return this.fc.forward(F.adaptiveAvgPool2d(x, 1).flatten(1));
    }
  }
  return new ResNet8();
};
